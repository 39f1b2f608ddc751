import { Client, type Context, PageIterator } from '@microsoft/microsoft-graph-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type Stack, startStack } from './stack';

/**
 * Microsoft's own Graph client library, pointed at the app instead of graph.microsoft.com: what a Graph client sends
 * ($filter, $select, $top, $count, @odata.nextLink) must work here as it does against Intune. The client follows only
 * https links of hosts it knows, so the app runs under a public https name (PUBLIC_BASE_URL, as in Azure) and the
 * client's last middleware stands in for the TLS front end, sending each request to the local host.
 */
const PUBLIC_HOST = 'reset.contoso.test';
let stack: Stack;
let graph: Client;
const DEVICES = 120;
const name = (n: number) => `Fleet phone ${String(n).padStart(3, '0')}`;

beforeAll(async () => {
  stack = await startStack({ PUBLIC_BASE_URL: `https://${PUBLIC_HOST}` });
  const tlsFrontEnd = {
    execute: async (context: Context) => {
      const url = String(context.request).replace(`https://${PUBLIC_HOST}`, stack.host.url);
      context.response = await fetch(url, context.options as RequestInit);
    },
  };
  // The test host runs with AUTH_MODE=none: no authentication middleware.
  graph = Client.initWithMiddleware({
    baseUrl: `https://${PUBLIC_HOST}/`,
    defaultVersion: 'api',
    customHosts: new Set([PUBLIC_HOST]),
    middleware: tlsFrontEnd,
  });
  for (let n = 0; n < DEVICES; n += 20) {
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const id = `fleet-${n + i}`;
        const response = await call(`${stack.api}/deviceManagement/managedDevices/${id}`, {
          method: 'PUT',
          json: {
            deviceName: name(n + i),
            operatingSystem: (n + i) % 3 === 0 ? 'Android' : 'iOS',
            osVersion: (n + i) % 3 === 0 ? '6.0' : '17.5',
            userPrincipalName: `user${(n + i) % 7}@contoso.com`,
          },
        });
        expect(response.status).toBe(201);
      }),
    );
  }
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('a Graph client library', () => {
  it('lists with $filter, $select and $top, and follows @odata.nextLink to the end', async () => {
    const first = await graph
      .api('/deviceManagement/managedDevices')
      .filter("operatingSystem eq 'iOS' and startswith(deviceName,'fleet PHONE 1')")
      .select('id,deviceName,operatingSystem')
      .top(7)
      .get();
    expect(first.value).toHaveLength(7);
    expect(first['@odata.nextLink']).toContain('$skipToken=');
    const seen: Array<{ id: string; deviceName: string; operatingSystem: string }> = [];
    await new PageIterator(graph, first, (device) => {
      seen.push(device);
      return true;
    }).iterate();
    const expected = Array.from({ length: DEVICES }, (_, n) => n).filter(
      (n) => n % 3 !== 0 && name(n).toLowerCase().startsWith('fleet phone 1'),
    );
    expect(seen.map((d) => d.deviceName).sort()).toEqual(expected.map(name).sort());
    for (const device of seen) expect(Object.keys(device).sort()).toEqual(['deviceName', 'id', 'operatingSystem']);
  });

  it('finds by user, exactly and by prefix, and counts a one-page answer', async () => {
    const exact = await graph
      .api('/deviceManagement/managedDevices')
      .filter("userPrincipalName eq 'USER3@contoso.com'")
      .count(true)
      .top(100)
      .get();
    const expected = Array.from({ length: DEVICES }, (_, n) => n).filter((n) => n % 7 === 3);
    expect(exact.value.map((d: { id: string }) => d.id).sort()).toEqual(expected.map((n) => `fleet-${n}`).sort());
    expect(exact['@odata.count']).toBe(expected.length);
    const prefix = await graph
      .api('/deviceManagement/managedDevices')
      .filter("startswith(userPrincipalName,'user')")
      .top(5)
      .get();
    expect(prefix.value).toHaveLength(5);
    expect(prefix['@odata.count']).toBeUndefined();
  });

  it('gets a 400 naming what it does not support', async () => {
    const refused = await graph
      .api('/deviceManagement/managedDevices')
      .filter("contains(deviceName,'phone')")
      .get()
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ statusCode: 400, code: 'invalidRequest' });
    expect(JSON.stringify((refused as { body: unknown }).body)).toContain('contains');
    const orderBy = await graph
      .api('/deviceManagement/managedDevices')
      .orderby('deviceName')
      .get()
      .catch((error: unknown) => error);
    expect(orderBy).toMatchObject({ statusCode: 400 });
  });

  it('resets a passcode and reads deviceActionResults on the device and under $filter', async () => {
    const accepted = await graph.api('/deviceManagement/managedDevices/fleet-4/resetPasscode').post({});
    expect(accepted).toMatchObject({ deviceId: 'fleet-4', actionName: 'resetPasscode' });
    let device: { deviceActionResults: Array<{ id: string; actionState: string; passcode?: string }> };
    for (;;) {
      device = await graph.api('/deviceManagement/managedDevices/fleet-4').get();
      if (device.deviceActionResults[0]?.actionState === 'done') break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(device.deviceActionResults).toHaveLength(1);
    expect(device.deviceActionResults[0]?.id).toBe(accepted.id);
    expect(device.deviceActionResults[0]).not.toHaveProperty('passcode');
    const done = await graph
      .api('/deviceManagement/deviceActionResults')
      .filter("actionState eq 'done' and deviceId eq 'fleet-4'")
      .select('id,actionState')
      .get();
    expect(done.value).toEqual([{ id: accepted.id, actionState: 'done' }]);
    const listed = await graph
      .api('/deviceManagement/managedDevices')
      .filter("id eq 'fleet-4'")
      .select('id,deviceActionResults')
      .get();
    expect(listed.value[0].deviceActionResults.map((a: { id: string }) => a.id)).toEqual([accepted.id]);
  });
});
