import { render } from 'preact';
import { useState } from 'preact/hooks';
import { type Api, ApiRequestError, createApi } from './api';
import { appServiceSignIn, type SignedOutSession, startSession } from './auth';
import { ConsoleContext, useConsole } from './context';
import { ActionsPage } from './pages/actionsPage';
import { AuditPage } from './pages/auditPage';
import { DevicePage } from './pages/devicePage';
import { DevicesPage } from './pages/devicesPage';
import { href, type Route, useLocation } from './router';
import { ConsoleConfigSchema, type Me, MeSchema } from './schemas';
import { describeError, Link, PageHeading } from './ui';
import './styles.css';

/** Loads the configuration, signs in, asks who the admin is, then shows the console. */
async function boot(root: HTMLElement): Promise<void> {
  try {
    const configResponse = await fetch('/api/console/config', { headers: { Accept: 'application/json' } });
    const config = ConsoleConfigSchema.safeParse(await configResponse.json().catch(() => undefined));
    if (!config.success) throw new ApiRequestError(configResponse.status, 'badConfig', 'The console is misconfigured.');
    const session = await startSession(config.data);
    if (session.kind !== 'signedIn') {
      render(<SignedOut session={session} />, root);
      return;
    }
    const api = createApi(() => session.accessToken());
    let me: Me;
    try {
      me = (await api.request(MeSchema, 'me')).body;
    } catch (error) {
      const signIn = error instanceof ApiRequestError && error.status === 401 && appServiceSignIn(config.data);
      if (!signIn) throw error;
      render(<SignedOut session={signIn} />, root);
      return;
    }
    render(<ConsoleApp api={api} me={me} signOut={session.signOut} />, root);
  } catch (error) {
    render(<Failure error={error} />, root);
  }
}

function ConsoleApp(props: { api: Api; me: Me; signOut: (() => Promise<void>) | undefined }) {
  return (
    <ConsoleContext.Provider value={{ api: props.api, me: props.me }}>
      <Shell signOut={props.signOut} />
    </ConsoleContext.Provider>
  );
}

function Shell({ signOut }: { signOut: (() => Promise<void>) | undefined }) {
  const { me, can } = useConsole();
  const { route, query, path } = useLocation();
  const section = route.name === 'device' ? 'devices' : route.name;
  const navLink = (name: Route['name'], path: string, label: string) => (
    <li>
      <Link href={href(path)} aria-current={section === name ? 'page' : undefined}>
        {label}
      </Link>
    </li>
  );
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to main content
      </a>
      <header class="top-bar">
        <span class="brand">Intune · Reset passcode</span>
        <span class="who">
          <span class="visually-hidden">Signed in as </span>
          {me.name}
        </span>
        {signOut && (
          <button type="button" class="link-button" onClick={() => signOut()}>
            Sign out
          </button>
        )}
      </header>
      <div class="layout">
        <nav aria-label="Console">
          <ul>
            {navLink('devices', '/devices', 'All devices')}
            {navLink('actions', '/actions', 'Device actions')}
            {can('Audit.Read') && navLink('audit', '/audit', 'Audit log')}
          </ul>
        </nav>
        <main id="main" tabIndex={-1}>
          <Page route={route} query={query} key={path} />
        </main>
      </div>
    </>
  );
}

function Page({ route, query }: { route: Route; query: URLSearchParams }) {
  switch (route.name) {
    case 'devices':
      return <DevicesPage query={query} />;
    case 'device':
      return <DevicePage deviceId={route.deviceId} />;
    case 'actions':
      return <ActionsPage query={query} />;
    case 'audit':
      return <AuditPage query={query} />;
    case 'notFound':
      return (
        <>
          <PageHeading title="Page not found">Page not found</PageHeading>
          <p>
            There is no such page in the console. Go to <Link href={href('/devices')}>all devices</Link>.
          </p>
        </>
      );
  }
}

function SignedOut({ session }: { session: SignedOutSession }) {
  const [busy, setBusy] = useState(false);
  return (
    <main id="main" class="centered">
      <PageHeading title="Sign in">Reset passcode console</PageHeading>
      {session.kind === 'unavailable' ? (
        <p class="message error" role="alert">
          {session.problem}
        </p>
      ) : (
        <>
          <p>Sign in with your work account to manage devices.</p>
          <button
            type="button"
            class="primary"
            disabled={busy}
            onClick={() => {
              setBusy(true);
              session.signIn().catch(() => setBusy(false));
            }}
          >
            Sign in
          </button>
        </>
      )}
    </main>
  );
}

function Failure({ error }: { error: unknown }) {
  return (
    <main id="main" class="centered">
      <PageHeading title="Error">Reset passcode console</PageHeading>
      <p class="message error" role="alert">
        {describeError(error)}
      </p>
    </main>
  );
}

const root = document.getElementById('app');
if (root) {
  // Preact renders next to what it did not create: replace the page's static placeholder with its own.
  root.replaceChildren();
  render(<output class="message">Loading the console…</output>, root);
  void boot(root);
}
