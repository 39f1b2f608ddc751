import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { describeConnectionString, portsInUse } from '../../tools/azurite';

describe('storage description for the npm start banner', () => {
  it('names the account and endpoints and never a key or a signature', () => {
    const key = 'c2VjcmV0LWtleS1ub3QtdG8tYmUtcHJpbnRlZA==';
    const text = describeConnectionString(
      `DefaultEndpointsProtocol=https;AccountName=contosoreset;AccountKey=${key};EndpointSuffix=core.windows.net`,
    );
    expect(text).toBe(
      'account contosoreset (tables https://contosoreset.table.core.windows.net, queues https://contosoreset.queue.core.windows.net), with an account key',
    );
    expect(text).not.toContain(key);

    const sas = 'sv=2024-01-01&sig=c2lnbmF0dXJl';
    const withSas = describeConnectionString(
      `TableEndpoint=https://x.table.core.windows.net;QueueEndpoint=https://x.queue.core.windows.net;SharedAccessSignature=${sas}`,
    );
    expect(withSas).toContain('with a SAS');
    expect(withSas).not.toContain('sig=');
    expect(describeConnectionString('UseDevelopmentStorage=true')).toMatch(/^development storage/);
  });
});

describe('port check', () => {
  it('reports the ports something already listens on', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    const held = typeof address === 'object' && address ? address.port : 0;
    try {
      expect(await portsInUse([held])).toEqual([held]);
    } finally {
      server.close();
    }
    await once(server, 'close');
    expect(await portsInUse([held])).toEqual([]);
  });
});
