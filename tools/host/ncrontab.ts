// Timer schedules: NCRONTAB with six fields, seconds first, evaluated in UTC, or a TimeSpan interval.
// https://learn.microsoft.com/azure/azure-functions/functions-bindings-timer#ncrontab-expressions
// https://learn.microsoft.com/azure/azure-functions/functions-bindings-timer#timespan

export class ScheduleError extends Error {
  constructor(expression: string, reason: string) {
    super(`Invalid timer schedule "${expression}": ${reason}`);
    this.name = 'ScheduleError';
  }
}

export interface Schedule {
  expression: string;
  /** The first occurrence strictly after `after`; undefined when the expression can never fire. */
  next(after: Date): Date | undefined;
}

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
}

const FIELDS: FieldSpec[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
  },
  { name: 'day-of-week', min: 0, max: 6, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

function parseValue(expression: string, spec: FieldSpec, text: string): number {
  const byName = spec.names?.indexOf(text.toLowerCase().slice(0, 3)) ?? -1;
  const value = byName >= 0 && /^[a-z]+$/i.test(text) ? byName + spec.min : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(value) || value < spec.min || value > spec.max) {
    throw new ScheduleError(expression, `${spec.name} value "${text}" is outside ${spec.min}-${spec.max}`);
  }
  return value;
}

function parseField(expression: string, spec: FieldSpec, text: string): Set<number> {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const [rangeText, stepText, ...extra] = item.split('/');
    if (extra.length > 0 || rangeText === undefined || rangeText === '') {
      throw new ScheduleError(expression, `bad ${spec.name} field "${text}"`);
    }
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) {
        throw new ScheduleError(expression, `bad step "${stepText}" in ${spec.name} field`);
      }
      step = Number(stepText);
    }
    let from: number;
    let to: number;
    if (rangeText === '*') {
      from = spec.min;
      to = spec.max;
    } else if (rangeText.includes('-')) {
      const [a, b, ...more] = rangeText.split('-');
      if (more.length > 0 || a === undefined || b === undefined) {
        throw new ScheduleError(expression, `bad range "${rangeText}" in ${spec.name} field`);
      }
      from = parseValue(expression, spec, a);
      to = parseValue(expression, spec, b);
      if (to < from) throw new ScheduleError(expression, `range "${rangeText}" runs backwards`);
    } else {
      from = parseValue(expression, spec, rangeText);
      // "5/15" means "from 5 to the end, every 15", as in NCrontab.
      to = stepText === undefined ? from : spec.max;
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

const TIMESPAN = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$/;

function parseTimeSpan(expression: string): Schedule | undefined {
  const match = TIMESPAN.exec(expression.trim());
  if (!match) return undefined;
  const [, days, hours, minutes, seconds] = match;
  const ms = (((Number(days ?? 0) * 24 + Number(hours)) * 60 + Number(minutes)) * 60 + Number(seconds)) * 1000;
  if (ms <= 0) throw new ScheduleError(expression, 'the interval must be positive');
  return { expression, next: (after) => new Date(after.getTime() + ms) };
}

/** Parses a timer trigger schedule: a six-field NCRONTAB expression or a TimeSpan such as "00:05:00". */
export function parseSchedule(expression: string): Schedule {
  const interval = parseTimeSpan(expression);
  if (interval) return interval;
  const texts = expression.trim().split(/\s+/);
  if (texts.length !== 6) {
    throw new ScheduleError(
      expression,
      `expected 6 fields ({second} {minute} {hour} {day} {month} {day-of-week}), got ${texts.length}`,
    );
  }
  const [seconds, minutes, hours, days, months, weekdays] = FIELDS.map((spec, i) =>
    parseField(expression, spec, texts[i]!),
  ) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];

  const next = (after: Date): Date | undefined => {
    const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
    const limit = after.getTime() + 5 * 366 * 24 * 3600 * 1000;
    while (t.getTime() <= limit) {
      if (!months.has(t.getUTCMonth() + 1)) {
        t.setUTCMonth(t.getUTCMonth() + 1, 1);
        t.setUTCHours(0, 0, 0, 0);
      } else if (!days.has(t.getUTCDate()) || !weekdays.has(t.getUTCDay())) {
        // NCrontab requires both the day-of-month and the day-of-week fields to match.
        t.setUTCDate(t.getUTCDate() + 1);
        t.setUTCHours(0, 0, 0, 0);
      } else if (!hours.has(t.getUTCHours())) {
        t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
      } else if (!minutes.has(t.getUTCMinutes())) {
        t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
      } else if (!seconds.has(t.getUTCSeconds())) {
        t.setUTCSeconds(t.getUTCSeconds() + 1, 0);
      } else {
        return t;
      }
    }
    return undefined;
  };
  return { expression, next };
}
