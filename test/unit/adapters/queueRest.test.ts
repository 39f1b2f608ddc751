import { describe, expect, it } from 'vitest';
import {
  queueAccessFromConnectionString,
  queueRestClient,
  sharedKeyStringToSign,
} from '../../../lib/adapters/queueRest';

const KEY = Buffer.from('a test key, not a real one').toString('base64');

describe('queueAccessFromConnectionString', () => {
  it('reads Azurite shorthand, explicit endpoints and the public-cloud form', () => {
    expect(queueAccessFromConnectionString('UseDevelopmentStorage=true')).toEqual({
      serviceUrl: 'http://127.0.0.1:10001/devstoreaccount1',
      auth: { kind: 'sharedKey', accountName: 'devstoreaccount1', accountKey: expect.any(String) },
    });
    expect(
      queueAccessFromConnectionString(
        `DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=${KEY};QueueEndpoint=http://127.0.0.1:5/dev/;TableEndpoint=http://127.0.0.1:6/dev`,
      ),
    ).toEqual({
      serviceUrl: 'http://127.0.0.1:5/dev',
      auth: { kind: 'sharedKey', accountName: 'dev', accountKey: KEY },
    });
    expect(
      queueAccessFromConnectionString(
        `DefaultEndpointsProtocol=https;AccountName=contoso;AccountKey=${KEY};EndpointSuffix=core.chinacloudapi.cn`,
      ).serviceUrl,
    ).toBe('https://contoso.queue.core.chinacloudapi.cn');
    expect(queueAccessFromConnectionString(`AccountName=contoso;AccountKey=${KEY}`).serviceUrl).toBe(
      'https://contoso.queue.core.windows.net',
    );
    expect(
      queueAccessFromConnectionString(
        'QueueEndpoint=https://contoso.queue.core.windows.net;SharedAccessSignature=?sv=1&sig=x',
      ),
    ).toEqual({ serviceUrl: 'https://contoso.queue.core.windows.net', auth: { kind: 'sas', token: 'sv=1&sig=x' } });
  });

  it('names what is missing without repeating the string', () => {
    expect(() => queueAccessFromConnectionString(`AccountKey=${KEY}`)).toThrow(/no queue endpoint/);
    const noKey = 'AccountName=contoso;QueueEndpoint=https://contoso.queue.core.windows.net';
    expect(() => queueAccessFromConnectionString(noKey)).toThrow(/needs AccountName and AccountKey/);
    const thrown = (() => {
      try {
        return queueAccessFromConnectionString(`AccountKey=${KEY};QueueEndpoint=not a url`);
      } catch (error) {
        return error;
      }
    })();
    expect(thrown).toBeInstanceOf(Error);
    expect(String(thrown)).not.toContain(KEY);
  });

  it('addresses the queue under the service URL', () => {
    expect(queueRestClient({ connectionString: 'UseDevelopmentStorage=true' }, 'reset-passcode').url).toBe(
      'http://127.0.0.1:10001/devstoreaccount1/reset-passcode',
    );
  });
});

// https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key#constructing-the-signature-string
describe('sharedKeyStringToSign', () => {
  it('signs the verb, the standard headers, the sorted x-ms- headers and the resource with its sorted query', () => {
    const signed = sharedKeyStringToSign('dev', {
      method: 'post',
      url: 'http://127.0.0.1:5/dev/reset-passcode/messages?VisibilityTimeout=30&b=2&a=1',
      headers: [
        ['x-ms-version', '2025-11-05'],
        ['Content-Type', 'application/xml; charset=utf-8'],
        ['content-length', '120'],
        ['X-MS-Date', 'Sat, 30 Nov 2024 06:00:00 GMT'],
        ['x-ms-client-request-id', '  id   with  spaces '],
        ['user-agent', 'not signed'],
      ],
    });
    expect(signed).toBe(
      [
        'POST',
        '',
        '',
        '120',
        '',
        'application/xml; charset=utf-8',
        '',
        '',
        '',
        '',
        '',
        '',
        'x-ms-client-request-id:id with spaces',
        'x-ms-date:Sat, 30 Nov 2024 06:00:00 GMT',
        'x-ms-version:2025-11-05',
        '/dev/dev/reset-passcode/messages',
        'a:1',
        'b:2',
        'visibilitytimeout:30',
      ].join('\n'),
    );
  });

  it('signs a zero Content-Length as empty (version 2015-02-21 and later)', () => {
    const signed = sharedKeyStringToSign('contoso', {
      method: 'PUT',
      url: 'https://contoso.queue.core.windows.net/q',
      headers: [['content-length', '0']],
    });
    expect(signed.split('\n')).toEqual(['PUT', '', '', '', '', '', '', '', '', '', '', '', '/contoso/q']);
  });
});
