import type { ActionState } from './model';

const TERMINAL: ReadonlySet<ActionState> = new Set(['done', 'failed', 'canceled', 'notSupported']);

/** Done, failed, canceled and notSupported are final: no state follows them. */
export const isTerminal = (state: ActionState): boolean => TERMINAL.has(state);

/** The allowed moves; anything else would move a state backwards (API.md). */
const NEXT: Record<ActionState, readonly ActionState[]> = {
  pending: ['active', 'canceled', 'failed'],
  active: ['done', 'failed', 'notSupported'],
  done: [],
  failed: [],
  canceled: [],
  notSupported: [],
};

/** Whether an action may move from one state to another. */
export const canTransition = (from: ActionState, to: ActionState): boolean => NEXT[from].includes(to);
