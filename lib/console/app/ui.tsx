import type { AnchorHTMLAttributes, ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { ApiRequestError } from './api';
import { onLinkClick } from './router';

const APP_NAME = 'Reset passcode console';
let firstPage = true;

/**
 * The page's h1. On navigation inside the console it takes the focus, so that keyboard and screen reader users land
 * on the new page's title (the first page load leaves the focus where the browser puts it).
 */
export function PageHeading({ children, title }: { children: ComponentChildren; title: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · ${APP_NAME}`;
    if (firstPage) firstPage = false;
    else ref.current?.focus();
  }, [title]);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}

export function Link({ href, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  return <a {...rest} href={href} onClick={onLinkClick} />;
}

/** A failure, announced to screen readers when it appears. */
export function ErrorMessage({ error }: { error: unknown }) {
  if (error === undefined) return null;
  return (
    <p class="message error" role="alert">
      {describeError(error)}
    </p>
  );
}

export function describeError(error: unknown): string {
  if (error instanceof ApiRequestError) return error.message;
  return 'Something went wrong. Reload the page and try again.';
}

/** A progress line for screen readers and eyes alike. */
export function Loading({ what }: { what: string }) {
  return <output class="message">Loading {what}…</output>;
}
