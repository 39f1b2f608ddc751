import type { RegisteredFunction } from './coreApi';
import { HostStoppingError, type Invoker } from './invoker';
import type { Logger } from './logger';
import type { Schedule } from './ncrontab';

// setTimeout cannot wait longer than this; longer waits are chained.
const MAX_TIMEOUT_MS = 2_147_483_647;
// A run that starts this much later than scheduled is reported as past due.
const PAST_DUE_TOLERANCE_MS = 1_000;
const NEVER = '0001-01-01T00:00:00';

export interface TimerListenerOptions {
  fn: RegisteredFunction;
  triggerName: string;
  schedule: Schedule;
  runOnStartup: boolean;
  invoker: Invoker;
  logger: Logger;
  clock?: () => Date;
}

/**
 * Fires a timer-triggered function on its schedule. Occurrences never overlap: the next one is computed
 * after the previous invocation has finished, as the timer extension does.
 */
export class TimerListener {
  readonly #options: TimerListenerOptions;
  readonly #clock: () => Date;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  #last: Date | undefined;

  constructor(options: TimerListenerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? (() => new Date());
  }

  start(): void {
    if (this.#options.runOnStartup) {
      const now = this.#clock();
      this.#running = this.#fire(now, now).finally(() => this.#scheduleNext(this.#clock()));
    } else {
      this.#scheduleNext(this.#clock());
    }
  }

  /** The next planned occurrence, if any. */
  get next(): Date | undefined {
    return this.#options.schedule.next(this.#clock());
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #scheduleNext(after: Date): void {
    if (this.#stopped) return;
    const due = this.#options.schedule.next(after);
    if (!due) {
      this.#options.logger.warn(`The schedule of ${this.#options.fn.name} never fires again.`);
      return;
    }
    const wait = () => {
      const remaining = due.getTime() - this.#clock().getTime();
      if (remaining > MAX_TIMEOUT_MS) {
        this.#timer = setTimeout(wait, MAX_TIMEOUT_MS);
        return;
      }
      this.#timer = setTimeout(
        () => {
          // Node timers may fire a millisecond early by the wall clock: never run before the occurrence.
          if (this.#clock().getTime() < due.getTime()) return wait();
          const started = this.#clock();
          this.#running = this.#fire(due, started).finally(() => {
            const now = this.#clock();
            this.#scheduleNext(new Date(Math.max(now.getTime(), due.getTime())));
          });
        },
        Math.max(0, remaining),
      );
    };
    wait();
  }

  async #fire(scheduled: Date, started: Date): Promise<void> {
    const { fn, triggerName, invoker, logger, schedule } = this.#options;
    const next = schedule.next(started);
    // The TimerInfo object the host sends; @azure/functions turns its keys into camelCase.
    const timerInfo = {
      Schedule: { AdjustForDST: true },
      ScheduleStatus: {
        Last: this.#last?.toISOString() ?? NEVER,
        Next: next?.toISOString() ?? NEVER,
        LastUpdated: started.toISOString(),
      },
      IsPastDue: started.getTime() - scheduled.getTime() > PAST_DUE_TOLERANCE_MS,
    };
    this.#last = scheduled;
    try {
      await invoker.invoke(fn, {
        inputData: [{ name: triggerName, data: { json: JSON.stringify(timerInfo) } }],
        triggerMetadata: {},
        reason: `Timer fired at ${started.toISOString()}`,
      });
    } catch (error) {
      if (!(error instanceof HostStoppingError)) {
        logger.log('debug', `Timer function ${fn.name} failed: ${String(error)}`);
      }
    }
  }
}
