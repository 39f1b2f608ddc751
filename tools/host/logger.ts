import { format } from 'node:util';
import type { LogLevel } from './config';

const ORDER: Record<LogLevel, number> = {
  trace: 0,
  debug: 1,
  information: 2,
  warning: 3,
  error: 4,
  critical: 5,
  none: 6,
};

interface LogScope {
  functionName?: string;
  invocationId?: string;
}

export interface Logger {
  log(level: LogLevel, message: string, scope?: LogScope): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** Writes one line per entry to stdout, tagged with the function name and invocation id. */
export function createLogger(minimum: LogLevel = 'information', clock: () => Date = () => new Date()): Logger {
  const log = (level: LogLevel, message: string, scope?: LogScope) => {
    if (ORDER[level] < ORDER[minimum] || level === 'none') return;
    const tag = scope?.functionName
      ? ` ${scope.functionName}${scope.invocationId ? ` (Id=${scope.invocationId})` : ''}:`
      : '';
    const line = `[${clock().toISOString()}] [${level}]${tag} ${message}\n`;
    process.stdout.write(line);
  };
  return {
    log,
    info: (...args) => log('information', format(...args)),
    warn: (...args) => log('warning', format(...args)),
    error: (...args) => log('error', format(...args)),
  };
}
