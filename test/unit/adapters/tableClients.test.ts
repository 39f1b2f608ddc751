import { describe, expect, it } from 'vitest';
import { allowsPlainHttp } from '../../../lib/adapters/tableClients';

const KEY = 'AccountKey=a2V5;AccountName=devstoreaccount1';

describe('allowsPlainHttp (a table client may send over http)', () => {
  it.each([
    ['the development storage shortcut', 'UseDevelopmentStorage=true'],
    [
      'an Azurite table endpoint',
      `DefaultEndpointsProtocol=http;${KEY};TableEndpoint=http://127.0.0.1:10002/devstoreaccount1`,
    ],
    ['localhost', `${KEY};TableEndpoint=http://localhost:10002/devstoreaccount1`],
  ])('yes for %s', (_what, connectionString) => {
    expect(allowsPlainHttp(connectionString)).toBe(true);
  });

  it.each([
    [
      'an account in Azure',
      'DefaultEndpointsProtocol=https;AccountName=contoso;AccountKey=a2V5;EndpointSuffix=core.windows.net',
    ],
    ['http to an account in Azure', 'DefaultEndpointsProtocol=http;AccountName=contoso;AccountKey=a2V5'],
    ['a host that only starts like localhost', `${KEY};TableEndpoint=http://localhost.example.com/devstoreaccount1`],
    [
      'a loopback queue endpoint beside a remote table one',
      `${KEY};QueueEndpoint=http://127.0.0.1:10001/a;TableEndpoint=http://tables.example.com/a`,
    ],
    ['the shortcut switched off', 'UseDevelopmentStorage=false;AccountName=contoso;AccountKey=a2V5'],
  ])('no for %s', (_what, connectionString) => {
    expect(allowsPlainHttp(connectionString)).toBe(false);
  });
});
