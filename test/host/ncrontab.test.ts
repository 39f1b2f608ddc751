import { describe, expect, it } from 'vitest';
import { parseSchedule, ScheduleError } from '../../tools/host/ncrontab';

const next = (expression: string, after: string) => parseSchedule(expression).next(new Date(after))?.toISOString();

describe('NCRONTAB schedules', () => {
  it('reads six fields with seconds first, in UTC', () => {
    expect(next('0 */5 * * * *', '2024-01-01T10:02:30Z')).toBe('2024-01-01T10:05:00.000Z');
    expect(next('*/10 * * * * *', '2024-01-01T10:02:30Z')).toBe('2024-01-01T10:02:40.000Z');
    expect(next('0 0 * * * *', '2024-01-01T10:00:00Z')).toBe('2024-01-01T11:00:00.000Z');
    expect(next('30 15 9 * * *', '2024-01-01T09:15:30Z')).toBe('2024-01-02T09:15:30.000Z');
  });

  it('supports ranges, lists, steps and month and weekday names', () => {
    expect(next('0 0 9-17 * * *', '2024-01-01T17:30:00Z')).toBe('2024-01-02T09:00:00.000Z');
    expect(next('0 0 7,18 * * *', '2024-01-01T08:00:00Z')).toBe('2024-01-01T18:00:00.000Z');
    // 2024-01-01 is a Monday.
    expect(next('0 30 9 * * 1-5', '2024-01-05T10:00:00Z')).toBe('2024-01-08T09:30:00.000Z');
    expect(next('0 30 9 * Jan Mon', '2024-01-29T10:00:00Z')).toBe('2025-01-06T09:30:00.000Z');
    expect(next('0 0 0 1 */6 *', '2024-02-10T00:00:00Z')).toBe('2024-07-01T00:00:00.000Z');
    expect(next('5/20 * * * * *', '2024-01-01T00:00:26Z')).toBe('2024-01-01T00:00:45.000Z');
  });

  it('requires both day-of-month and day-of-week to match, as NCrontab does', () => {
    // The 13th that is a Friday, after 2024-01-01: 2024-09-13.
    expect(next('0 0 0 13 * 5', '2024-01-01T00:00:00Z')).toBe('2024-09-13T00:00:00.000Z');
  });

  it('handles month ends and leap days', () => {
    expect(next('0 0 0 31 * *', '2024-04-01T00:00:00Z')).toBe('2024-05-31T00:00:00.000Z');
    expect(next('0 0 12 29 2 *', '2024-03-01T00:00:00Z')).toBe('2028-02-29T12:00:00.000Z');
    expect(parseSchedule('0 0 0 30 2 *').next(new Date('2024-01-01T00:00:00Z'))).toBeUndefined();
  });

  it('accepts a TimeSpan interval', () => {
    expect(next('00:00:30', '2024-01-01T00:00:00Z')).toBe('2024-01-01T00:00:30.000Z');
    expect(next('1.00:00:00', '2024-01-01T00:00:00Z')).toBe('2024-01-02T00:00:00.000Z');
  });

  it('rejects malformed expressions', () => {
    expect(() => parseSchedule('0 */5 * * *')).toThrow(/expected 6 fields/);
    expect(() => parseSchedule('60 * * * * *')).toThrow(ScheduleError);
    expect(() => parseSchedule('0 0 0 0 * *')).toThrow(/day value/);
    expect(() => parseSchedule('0 0 5-1 * * *')).toThrow(/backwards/);
    expect(() => parseSchedule('*/0 * * * * *')).toThrow(/step/);
    expect(() => parseSchedule('0 0 0 * * 7')).toThrow(/day-of-week/);
  });
});
