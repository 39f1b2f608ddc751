import type { HttpHandler } from '@azure/functions';
import Ajv2020 from 'ajv/dist/2020';
import { describe, expect, it, vi } from 'vitest';
import { createSubscription } from '../../../functions/createSubscription';
import { deleteSubscription } from '../../../functions/deleteSubscription';
import { getSubscription } from '../../../functions/getSubscription';
import { listSubscriptions } from '../../../functions/listSubscriptions';
import { renewSubscription } from '../../../functions/renewSubscription';
import { TransientError } from '../../../lib/core/errors';
import { ROUTES, type RouteSpec } from '../../../lib/http/routes';
import type { NotificationMessage } from '../../../lib/ports';
import { applyPasscodeReset } from '../../../lib/useCases/applyPasscodeReset';
import { requestPasscodeReset } from '../../../lib/useCases/requestPasscodeReset';
import { handleNotificationMessage } from '../../../lib/useCases/subscriptions';
import { buildOpenApiDocument } from '../../../tools/apiDocuments/openApi';
import { as, type CallResult, documentedCalls, ORIGIN, useHandlerHarness } from '../../support/handlers';
import { callerWith, deviceFixture, throwOnCall } from '../../support/services';

// The functions take their dependencies from getDeps: the handler harness installs its own (test/support/handlers.ts).
vi.mock('../../../lib/deps', { spy: true });

// The subscription routes' handlers, called in-process as the host calls them (test/support/handlers.ts), on memory
// stores and a scripted receiver (the notifier): statuses, headers, error bodies, each response checked against the
// OpenAPI document, and nothing stored for a refused request.

const harness = useHandlerHarness();

const call = documentedCalls(harness);

const expectError = (result: CallResult, status: number, code: string, target?: string) => {
  expect(result.status, JSON.stringify(result.body)).toBe(status);
  expect(result.body.error.code).toBe(code);
  if (target !== undefined) expect(result.body.error.target).toBe(target);
  expect(result.body.error.innerError['request-id']).toBe('invocation-1');
};

const SUBSCRIPTIONS = 'deviceManagement/subscriptions';
const one = (id: string) => `${SUBSCRIPTIONS}/${id}`;
const UNKNOWN_ID = '0f0e0d0c-0b0a-4908-8706-050403020100';
const reader = as('Devices.Read');

/** Another caller with Devices.Read (App Service's principal header, another object id). */
function otherReader(): Record<string, string> {
  const principal = {
    auth_typ: 'aad',
    claims: [
      { typ: 'oid', val: 'caller-2' },
      { typ: 'name', val: 'bo@contoso.com' },
      { typ: 'roles', val: 'Devices.Read' },
    ],
  };
  return { 'X-MS-CLIENT-PRINCIPAL': Buffer.from(JSON.stringify(principal)).toString('base64') };
}

const body = (overrides: Record<string, unknown> = {}) => ({
  changeType: 'updated',
  notificationUrl: 'https://receiver.contoso.com/notify',
  resource: 'deviceManagement/deviceActionResults',
  expirationDateTime: '2026-11-28T10:00:00.000Z',
  clientState: 'secret-of-the-receiver',
  ...overrides,
});

const subscribe = (json: unknown = body(), headers = reader) =>
  call(createSubscription, ROUTES.createSubscription, SUBSCRIPTIONS, { json, headers });

describe('authentication and roles', () => {
  const routes: [string, HttpHandler, RouteSpec, string][] = [
    ['create', createSubscription, ROUTES.createSubscription, SUBSCRIPTIONS],
    ['list', listSubscriptions, ROUTES.listSubscriptions, SUBSCRIPTIONS],
    ['get', getSubscription, ROUTES.getSubscription, one(UNKNOWN_ID)],
    ['renew', renewSubscription, ROUTES.renewSubscription, one(UNKNOWN_ID)],
    ['delete', deleteSubscription, ROUTES.deleteSubscription, one(UNKNOWN_ID)],
  ];

  it.each(routes)(
    '%s: 401 without a caller, 403 without Devices.Read, nothing validated or stored',
    async (...args) => {
      const [, handler, route, path] = args;
      const anonymous = await call(handler, route, path, { json: body() });
      expectError(anonymous, 401, 'unauthorized');
      const withoutRole = await call(handler, route, path, {
        json: body(),
        headers: as('Devices.Manage', 'Passcode.Reset', 'Passcode.Read', 'Audit.Read'),
      });
      expectError(withoutRole, 403, 'forbidden');
      expect(withoutRole.body.error.message).toBe('This operation needs the role Devices.Read.');
      expect(harness().notifier.validations).toEqual([]);
      expect(harness().subscriptions.subscriptions.size).toBe(0);
    },
  );
});

describe('POST deviceManagement/subscriptions', () => {
  it('validates the receiver, then answers 201 with the subscription, its Location and no-store; never the clientState', async () => {
    const created = await subscribe();
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
      resource: 'deviceManagement/deviceActionResults',
      changeType: 'updated',
      notificationUrl: 'https://receiver.contoso.com/notify',
      expirationDateTime: '2026-11-28T10:00:00.000Z',
      createdDateTime: '2026-11-26T10:00:00.000Z',
      creatorId: 'caller-1',
    });
    expect(created.headers.get('location')).toBe(`${ORIGIN}/api/${one(created.body.id)}`);
    expect(created.headers.get('cache-control')).toBe('no-store');
    expect(harness().notifier.validations).toEqual(['https://receiver.contoso.com/notify']);
    expect(JSON.stringify(created.body)).not.toContain('secret-of-the-receiver');

    // The Location is the subscription: GET it, find it in the list.
    const location = new URL(created.headers.get('location') ?? '');
    const path = location.pathname.replace('/api/', '');
    const read = await call(getSubscription, ROUTES.getSubscription, path, { headers: reader });
    expect(read.body).toEqual(created.body);
    const list = await call(listSubscriptions, ROUTES.listSubscriptions, SUBSCRIPTIONS, { headers: reader });
    expect(list.body).toEqual({ value: [created.body] });
    expect(list.headers.get('cache-control')).toBe('no-store');
  });

  it('lives the longest allowed (72 hours) when expirationDateTime is left out, as a Power Automate trigger sends it', async () => {
    const { expirationDateTime: _e, clientState: _c, ...minimal } = body();
    const created = await subscribe(minimal);
    expect(created.status).toBe(201);
    expect(created.body.expirationDateTime).toBe('2026-11-29T10:00:00.000Z');
  });

  it('refuses a bad body in one 400 naming every bad field, before any validation request, storing nothing', async () => {
    const result = await subscribe({
      changeType: 'created',
      notificationUrl: 'not a url',
      resource: 'deviceManagement/managedDevices',
      expirationDateTime: 'tomorrow',
      clientState: 'x'.repeat(129),
      lifecycleNotificationUrl: 'https://receiver.contoso.com/lifecycle',
    });
    expectError(result, 400, 'invalidRequest');
    const details = result.body.error.details as { code: string; target: string }[];
    expect(details.map((d) => d.target).sort()).toEqual(
      [
        'changeType',
        'clientState',
        'expirationDateTime',
        'lifecycleNotificationUrl',
        'notificationUrl',
        'resource',
      ].sort(),
    );
    expect(details.find((d) => d.target === 'lifecycleNotificationUrl')?.code).toBe('unknownProperty');
    const missing = await subscribe({});
    expect(missing.body.error.details.map((d: { target: string }) => d.target).sort()).toEqual([
      'changeType',
      'notificationUrl',
      'resource',
    ]);
    const notJson = await call(createSubscription, ROUTES.createSubscription, SUBSCRIPTIONS, {
      body: 'notificationUrl=https://receiver.contoso.com',
      headers: { ...reader, 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    expectError(notJson, 400, 'invalidRequest');
    expect(harness().notifier.validations).toEqual([]);
    expect(harness().subscriptions.subscriptions.size).toBe(0);
  });

  it('refuses plain http and non-public addresses outside Development, an expiry past 72 hours or in the past, and an unknown device', async () => {
    const cases: [Record<string, unknown>, number, string, string][] = [
      [{ notificationUrl: 'http://receiver.contoso.com/notify' }, 400, 'invalidRequest', 'notificationUrl'],
      [{ notificationUrl: 'http://localhost:9000/notify' }, 400, 'invalidRequest', 'notificationUrl'],
      [{ notificationUrl: 'https://user:pw@receiver.contoso.com/' }, 400, 'invalidRequest', 'notificationUrl'],
      // An address outside global unicast space is refused at once, however it is spelt (the sender checks again).
      [{ notificationUrl: 'https://[::127.0.0.1]/notify' }, 400, 'invalidRequest', 'notificationUrl'],
      [{ notificationUrl: 'https://168.63.129.16/notify' }, 400, 'invalidRequest', 'notificationUrl'],
      [{ notificationUrl: 'https://[64:ff9b::a00:1]/notify' }, 400, 'invalidRequest', 'notificationUrl'],
      [{ expirationDateTime: '2026-11-29T10:00:01.000Z' }, 400, 'invalidRequest', 'expirationDateTime'],
      [{ expirationDateTime: '2026-11-26T09:59:59.000Z' }, 400, 'invalidRequest', 'expirationDateTime'],
      [{ resource: 'deviceManagement/managedDevices/nope/deviceActionResults' }, 404, 'deviceNotFound', 'resource'],
    ];
    for (const [overrides, status, code, target] of cases) {
      const result = await subscribe(body(overrides));
      expectError(result, status, code, target);
      if (code === 'invalidRequest') expect(result.body.error.details[0].target).toBe(target);
    }
    expect(harness().notifier.validations).toEqual([]);
    expect(harness().subscriptions.subscriptions.size).toBe(0);
  });

  it('watches one device when the resource names it', async () => {
    harness().addDevice(deviceFixture());
    const resource = 'deviceManagement/managedDevices/device-1/deviceActionResults';
    const created = await subscribe(body({ resource }));
    expect(created.status).toBe(201);
    expect(created.body.resource).toBe(resource);
  });

  it('answers 400 subscriptionValidationFailed when the receiver does not echo the token, storing nothing', async () => {
    harness().notifier.validates = false;
    const result = await subscribe();
    expectError(result, 400, 'subscriptionValidationFailed', 'notificationUrl');
    expect(harness().notifier.validations).toHaveLength(1);
    expect(harness().subscriptions.subscriptions.size).toBe(0);
  });

  it('answers 503 with Retry-After when storage is briefly unavailable', async () => {
    throwOnCall(harness().subscriptions, 'create', 1, new TransientError('table unavailable', 3));
    const result = await subscribe();
    expectError(result, 503, 'serviceUnavailable');
    expect(result.headers.get('retry-after')).toBe('3');
  });
});

describe('POST subscriptions in Development (AZURE_FUNCTIONS_ENVIRONMENT=Development)', () => {
  const developer = useHandlerHarness({ limits: { development: true } });

  it('accepts a plain http receiver on the loopback, and still no other http one', async () => {
    const loopback = await developer().call(createSubscription, ROUTES.createSubscription, SUBSCRIPTIONS, {
      json: body({ notificationUrl: 'http://127.0.0.1:9000/notify' }),
      headers: reader,
    });
    expect(loopback.status).toBe(201);
    const remote = await developer().call(createSubscription, ROUTES.createSubscription, SUBSCRIPTIONS, {
      json: body({ notificationUrl: 'http://receiver.contoso.com/notify' }),
      headers: reader,
    });
    expect(remote.status).toBe(400);
    expect(remote.body.error.details[0]).toMatchObject({ target: 'notificationUrl' });
  });
});

describe('GET, PATCH and DELETE deviceManagement/subscriptions/{subscriptionId}', () => {
  it('refuses an id that is not a GUID (400 subscriptionId) and answers 404 subscriptionNotFound for an unknown one', async () => {
    for (const [handler, route] of [
      [getSubscription, ROUTES.getSubscription],
      [renewSubscription, ROUTES.renewSubscription],
      [deleteSubscription, ROUTES.deleteSubscription],
    ] as const) {
      const init = { headers: reader, json: { expirationDateTime: '2026-11-28T10:00:00.000Z' } };
      const bad = await call(handler, route, one('not-a-guid'), init);
      expectError(bad, 400, 'invalidRequest', 'subscriptionId');
      const missing = await call(handler, route, one(UNKNOWN_ID), init);
      expectError(missing, 404, 'subscriptionNotFound', 'subscriptionId');
      expect(missing.body.error.message).toBe(`No subscription with id '${UNKNOWN_ID}'.`);
    }
  });

  it("treats another caller's subscription as unknown: 404 on GET, PATCH and DELETE, and not in their list", async () => {
    const { id } = (await subscribe()).body;
    const other = otherReader();
    expectError(
      await call(getSubscription, ROUTES.getSubscription, one(id), { headers: other }),
      404,
      'subscriptionNotFound',
    );
    const renew = await call(renewSubscription, ROUTES.renewSubscription, one(id), {
      headers: other,
      json: { expirationDateTime: '2026-11-27T10:00:00.000Z' },
    });
    expectError(renew, 404, 'subscriptionNotFound');
    expectError(
      await call(deleteSubscription, ROUTES.deleteSubscription, one(id), { headers: other }),
      404,
      'subscriptionNotFound',
    );
    const theirs = await call(listSubscriptions, ROUTES.listSubscriptions, SUBSCRIPTIONS, { headers: other });
    expect(theirs.body).toEqual({ value: [] });
    expect(harness().subscriptions.subscriptions.get(id)?.value.expirationDateTime).toBe('2026-11-28T10:00:00.000Z');
  });

  it('reads an id in any case (GUIDs are not case-sensitive)', async () => {
    const { id } = (await subscribe()).body;
    const read = await call(getSubscription, ROUTES.getSubscription, one(id.toUpperCase()), { headers: reader });
    expect(read.status).toBe(200);
    expect(read.body.id).toBe(id);
  });

  it('renews with PATCH (200, the new expiry), refusing an expiry past 72 hours and any other property', async () => {
    const { id } = (await subscribe()).body;
    harness().clock.advance({ hours: 24 });
    const renewed = await call(renewSubscription, ROUTES.renewSubscription, one(id), {
      headers: reader,
      json: { expirationDateTime: '2026-11-30T10:00:00.000Z' },
    });
    expect(renewed.status).toBe(200);
    expect(renewed.body).toMatchObject({ id, expirationDateTime: '2026-11-30T10:00:00.000Z' });
    expect(renewed.headers.get('cache-control')).toBe('no-store');
    const tooFar = await call(renewSubscription, ROUTES.renewSubscription, one(id), {
      headers: reader,
      json: { expirationDateTime: '2026-11-30T10:00:01.000Z' },
    });
    expectError(tooFar, 400, 'invalidRequest', 'expirationDateTime');
    const before = harness().subscriptions.subscriptions.get(id)?.value;
    const extra = await call(renewSubscription, ROUTES.renewSubscription, one(id), {
      headers: reader,
      json: { expirationDateTime: '2026-11-29T10:00:00.000Z', notificationUrl: 'https://elsewhere.example.com' },
    });
    expectError(extra, 400, 'invalidRequest', 'notificationUrl');
    expect(extra.body.error.details[0].code).toBe('unknownProperty');
    // Nothing changed: the expiry stays, and the sealed URL still opens to the original.
    const stored = harness().subscriptions.subscriptions.get(id)?.value;
    expect(stored?.expirationDateTime).toBe('2026-11-30T10:00:00.000Z');
    expect(stored?.sealedNotificationUrl).toEqual(before?.sealedNotificationUrl);
  });

  it('deletes with 204 and no body; then the subscription is gone', async () => {
    const { id } = (await subscribe()).body;
    const deleted = await call(deleteSubscription, ROUTES.deleteSubscription, one(id), { headers: reader });
    expect(deleted.status).toBe(204);
    expect(deleted.body).toBeUndefined();
    expectError(
      await call(getSubscription, ROUTES.getSubscription, one(id), { headers: reader }),
      404,
      'subscriptionNotFound',
    );
    expect(harness().subscriptions.subscriptions.size).toBe(0);
  });

  it('refuses unknown query parameters on the list (400), as every list does', async () => {
    const result = await call(listSubscriptions, ROUTES.listSubscriptions, `${SUBSCRIPTIONS}?orderBy=id`, {
      headers: reader,
    });
    expectError(result, 400, 'invalidRequest', 'orderBy');
  });
});

/** A caller with its own object id and the given roles. */
function principal(oid: string, ...roles: string[]): Record<string, string> {
  const claims = [
    { typ: 'oid', val: oid },
    { typ: 'name', val: `${oid}@contoso.com` },
    ...roles.map((val) => ({ typ: 'roles', val })),
  ];
  return { 'X-MS-CLIENT-PRINCIPAL': Buffer.from(JSON.stringify({ auth_typ: 'aad', claims })).toString('base64') };
}

describe('limits per owner: 429 with Retry-After', () => {
  it('refuses the subscription past MAX_SUBSCRIPTIONS_PER_OWNER until one ends; another owner is not limited', async () => {
    harness().services.settings.subscriptions = { maxPerOwner: 2, creationsPerHour: 10, workflowMaxAgeDays: 30 };
    const first = await subscribe(body({ expirationDateTime: '2026-11-26T12:00:00.000Z' }));
    expect(first.status).toBe(201);
    expect((await subscribe()).status).toBe(201);
    const refused = await subscribe();
    expectError(refused, 429, 'tooManySubscriptions');
    // The first ends at 12:00, two hours after the fixed clock's 10:00.
    expect(refused.headers.get('retry-after')).toBe('7200');
    expect(harness().subscriptions.subscriptions.size).toBe(2);
    expect((await subscribe(body(), otherReader())).status).toBe(201);
    const deleted = await call(deleteSubscription, ROUTES.deleteSubscription, one(first.body.id), { headers: reader });
    expect(deleted.status).toBe(204);
    expect((await subscribe()).status).toBe(201);
  });

  it('refuses a creation past SUBSCRIPTION_CREATIONS_PER_OWNER_PER_HOUR until the hour is over', async () => {
    harness().services.settings.subscriptions = { maxPerOwner: 20, creationsPerHour: 3, workflowMaxAgeDays: 30 };
    for (let i = 0; i < 3; i++) {
      const created = await subscribe();
      expect(created.status).toBe(201);
      await call(deleteSubscription, ROUTES.deleteSubscription, one(created.body.id), { headers: reader });
    }
    harness().clock.advance({ minutes: 20 });
    const refused = await subscribe();
    expectError(refused, 429, 'subscriptionCreationRateExceeded');
    expect(refused.headers.get('retry-after')).toBe(String(40 * 60));
    harness().clock.advance({ minutes: 40 });
    expect((await subscribe()).status).toBe(201);
  });
});

describe('administrators (Subscriptions.Manage)', () => {
  const administrator = principal('caller-9', 'Devices.Read', 'Subscriptions.Manage');

  it("read, list and delete another caller's subscription; a reader without the role cannot", async () => {
    const { id } = (await subscribe()).body;
    expectError(
      await call(getSubscription, ROUTES.getSubscription, one(id), { headers: otherReader() }),
      404,
      'subscriptionNotFound',
    );
    expectError(
      await call(deleteSubscription, ROUTES.deleteSubscription, one(id), { headers: otherReader() }),
      404,
      'subscriptionNotFound',
    );
    expectError(
      await call(listSubscriptions, ROUTES.listSubscriptions, `${SUBSCRIPTIONS}?all=true`, { headers: otherReader() }),
      403,
      'forbidden',
    );
    expect((await call(getSubscription, ROUTES.getSubscription, one(id), { headers: administrator })).body.id).toBe(id);
    const listed = await call(listSubscriptions, ROUTES.listSubscriptions, `${SUBSCRIPTIONS}?all=true`, {
      headers: administrator,
    });
    expect(listed.body.value.map((s: { id: string }) => s.id)).toEqual([id]);
    // An administrator may not renew someone else's: only the owner, whose right the route checks, may.
    expectError(
      await call(renewSubscription, ROUTES.renewSubscription, one(id), {
        headers: administrator,
        json: { expirationDateTime: '2026-11-27T10:00:00.000Z' },
      }),
      404,
      'subscriptionNotFound',
    );
    const deleted = await call(deleteSubscription, ROUTES.deleteSubscription, one(id), { headers: administrator });
    expect(deleted.status).toBe(204);
    expect(harness().subscriptions.subscriptions.size).toBe(0);
    const events = harness()
      .audit.events.filter((e) => e.actionId === id)
      .map((e) => [e.eventType, e.callerId]);
    expect(events).toEqual([
      ['subscriptionCreated', 'caller-1'],
      ['subscriptionDeleted', 'caller-9'],
    ]);
    // A second delete of the same subscription is a 404, never a 500.
    expectError(
      await call(deleteSubscription, ROUTES.deleteSubscription, one(id), { headers: administrator }),
      404,
      'subscriptionNotFound',
    );
  });

  it("pages every caller's subscriptions with $top and a signed $skipToken", async () => {
    const ids = [
      (await subscribe()).body.id,
      (await subscribe()).body.id,
      (await subscribe(body(), otherReader())).body.id,
    ];
    const seen: string[] = [];
    let url: string | undefined = `${SUBSCRIPTIONS}?all=true&$top=2`;
    while (url) {
      const page: CallResult = await call(listSubscriptions, ROUTES.listSubscriptions, url, { headers: administrator });
      expect(page.status).toBe(200);
      expect(page.body.value.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.value.map((s: { id: string }) => s.id));
      const next: string | undefined = page.body['@odata.nextLink'];
      url = next?.slice(next.indexOf(SUBSCRIPTIONS));
    }
    expect(seen.sort()).toEqual(ids.sort());
  });

  it('PATCH needs Devices.Read of the owner at every renewal: without it, 403', async () => {
    const { id } = (await subscribe()).body;
    const renewal = await call(renewSubscription, ROUTES.renewSubscription, one(id), {
      headers: principal('caller-1', 'Subscriptions.Manage'),
      json: { expirationDateTime: '2026-11-27T10:00:00.000Z' },
    });
    expectError(renewal, 403, 'forbidden');
  });
});

describe('the notification a subscription created through the route receives', () => {
  it('matches the documented ChangeNotificationCollection: the clientState, the finished action, no passcode', async () => {
    harness().addDevice(deviceFixture());
    const { id } = (await subscribe()).body;
    const { services, queue, notifications, notifier } = harness();
    const { action } = await requestPasscodeReset(services, {
      deviceId: 'device-1',
      caller: callerWith('Passcode.Reset', 'Passcode.Read'),
    });
    for (const message of queue.messages.splice(0)) await applyPasscodeReset(services, message);
    while (notifications.messages.length > 0) {
      await handleNotificationMessage(services, notifications.messages.shift() as NotificationMessage);
    }
    expect(notifier.posts).toHaveLength(1);
    const notice = notifier.posts[0]?.body;
    expect(notice).toMatchObject({
      value: [{ subscriptionId: id, clientState: 'secret-of-the-receiver', resourceData: { actionState: 'done' } }],
    });
    expect(JSON.stringify(notice)).not.toMatch(/passcode"|sealed/);
    expect(harness().channel.received[0]?.passcode).toBeDefined();
    expect(JSON.stringify(notice)).not.toContain(String(harness().channel.received[0]?.passcode));

    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    ajv.addSchema({ ...buildOpenApiDocument(), $id: 'https://openapi.test/doc.json' });
    const validate = ajv.compile({
      $ref: 'https://openapi.test/doc.json#/components/schemas/ChangeNotificationCollection',
    });
    expect(validate(notice), JSON.stringify(validate.errors)).toBe(true);
    // The schema is strict: a passcode in resourceData would fail it.
    const leaked = structuredClone(notice) as { value: { resourceData: Record<string, unknown> }[] };
    const [first] = leaked.value;
    if (first) first.resourceData.passcode = '123456';
    expect(validate(leaked)).toBe(false);
    expect(action.id).toBe((notice as { value: { resourceData: { id: string } }[] }).value[0]?.resourceData.id);
  });
});
