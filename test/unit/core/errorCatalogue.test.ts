import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, ERROR_CODES, exampleMessage, formatMessage } from '../../../lib/core/errorCatalogue';
import { ActionInProgressError, ApiError, apiError, invalidFields } from '../../../lib/core/errors';

describe('the error catalogue', () => {
  it('gives every code a 4xx or 5xx status, a message and a description, codes in camelCase', () => {
    for (const code of ERROR_CODES) {
      const entry = ERROR_CATALOGUE[code];
      expect(code).toMatch(/^[a-z][A-Za-z]+$/);
      expect(entry.status).toBeGreaterThanOrEqual(400);
      expect(entry.status).toBeLessThan(600);
      expect(entry.message.length).toBeGreaterThan(0);
      expect(entry.when).toMatch(/\.$/);
    }
    expect(ERROR_CODES.map((code) => ERROR_CATALOGUE[code].status)).toEqual(
      [...ERROR_CODES.map((code) => ERROR_CATALOGUE[code].status)].sort((a, b) => a - b),
    );
  });

  it('has an example value for every placeholder, so the documents never show a bare {name}', () => {
    for (const code of ERROR_CODES) expect(exampleMessage(code), code).not.toMatch(/\{\w+\}/);
  });

  it('fills placeholders, and leaves one without a value visible rather than empty', () => {
    expect(formatMessage("No managed device with id '{deviceId}'.", { deviceId: 'd-1' })).toBe(
      "No managed device with id 'd-1'.",
    );
    expect(formatMessage('{a} and {b}', { a: 1 })).toBe('1 and {b}');
  });
});

describe('apiError', () => {
  it('builds the error of a code: status, filled message, the catalogue target, and the headers given', () => {
    const error = apiError('tooManyRequests', { limit: 10 }, { headers: { 'Retry-After': '60' } });
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 429,
      code: 'tooManyRequests',
      message: "This device's passcode was reset 10 times in the last 24 hours, the most allowed.",
      extra: { headers: { 'Retry-After': '60' } },
    });
    expect(apiError('deviceNotFound', { deviceId: 'x' }).extra).toEqual({ target: 'deviceId' });
    expect(apiError('internalServerError').extra).toEqual({});
  });

  it('lets a throw site name the target the catalogue leaves open', () => {
    expect(apiError('forbidden', { reason: 'No.' }, { target: 'roles' }).extra.target).toBe('roles');
  });

  it('makes the 409 actionInProgress from the catalogue, keeping the action it points at', () => {
    const error = new ActionInProgressError('d-1', 'a-1');
    expect(error).toMatchObject({ status: 409, code: 'actionInProgress', deviceId: 'd-1', actionId: 'a-1' });
    expect(error.message).toBe(ERROR_CATALOGUE.actionInProgress.message);
    expect(error.extra.target).toBe('deviceId');
  });
});

describe('invalidFields', () => {
  it('is one 400 naming every bad field, in the message and in details', () => {
    const error = invalidFields([
      { code: 'invalidValue', message: 'must be 1-128 characters', target: 'deviceId' },
      { code: 'invalidValue', message: 'must be printable ASCII', target: 'Idempotency-Key' },
      { code: 'unknownProperty', message: 'unknown properties: force', target: 'body' },
      { code: 'invalidValue', message: 'too long', target: 'body' },
    ]);
    expect(error.status).toBe(400);
    expect(error.code).toBe('invalidRequest');
    expect(error.message).toBe('The request is not valid: deviceId, Idempotency-Key, body.');
    expect(error.extra.details).toHaveLength(4);
    expect(error.extra.target).toBeUndefined();
  });

  it('names the one bad field as the target when there is only one', () => {
    expect(invalidFields([{ code: 'invalidValue', message: 'x', target: '$top' }]).extra.target).toBe('$top');
  });
});

describe('throw sites', () => {
  it('build API errors from the catalogue: no `new ApiError(` outside lib/core/errors.ts', () => {
    const root = join(__dirname, '../../..');
    const sources = ['lib', 'functions'].flatMap((dir) =>
      readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
        .filter((file) => file.endsWith('.ts'))
        .map((file) => join(dir, file)),
    );
    expect(sources.length).toBeGreaterThan(30);
    const direct = sources.filter(
      (file) =>
        file !== join('lib', 'core', 'errors.ts') && readFileSync(join(root, file), 'utf8').includes('new ApiError('),
    );
    expect(direct).toEqual([]);
  });
});
