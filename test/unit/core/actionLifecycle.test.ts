import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canTransition, isTerminal } from '../../../lib/core/actionLifecycle';
import { ACTION_STATES, type ActionState } from '../../../lib/core/model';

// Kept beside the use cases that drive the state machine; it tests lib/core/actionLifecycle.ts.
const rank = (state: ActionState) => (state === 'pending' ? 0 : state === 'active' ? 1 : 2);
const anyState = fc.constantFrom(...ACTION_STATES);

describe('action state machine (property tests)', () => {
  it('has exactly the four terminal states of API.md', () => {
    expect(ACTION_STATES.filter(isTerminal).sort()).toEqual(['canceled', 'done', 'failed', 'notSupported']);
  });

  it('no transition leaves a terminal state', () => {
    fc.assert(
      fc.property(anyState, anyState, (from, to) => {
        if (isTerminal(from)) expect(canTransition(from, to)).toBe(false);
      }),
    );
  });

  it('every allowed transition moves strictly forward (pending < active < terminal)', () => {
    fc.assert(
      fc.property(anyState, anyState, (from, to) => {
        if (canTransition(from, to)) expect(rank(to)).toBeGreaterThan(rank(from));
      }),
    );
  });

  it('every sequence of allowed transitions from pending never moves backwards and stops at a terminal state', () => {
    fc.assert(
      fc.property(fc.array(anyState, { maxLength: 20 }), (attempts) => {
        let state: ActionState = 'pending';
        const path: ActionState[] = [state];
        for (const next of attempts) {
          if (!canTransition(state, next)) continue;
          expect(rank(next)).toBeGreaterThan(rank(state));
          state = next;
          path.push(state);
        }
        // At most pending → active → terminal, and once terminal nothing follows.
        expect(path.length).toBeLessThanOrEqual(3);
        for (let i = 0; i < path.length - 1; i++) expect(isTerminal(path[i] as ActionState)).toBe(false);
      }),
    );
  });

  it('allows the moves the use cases make: claim, finish, cancel, expire', () => {
    expect(canTransition('pending', 'active')).toBe(true);
    expect(canTransition('pending', 'canceled')).toBe(true);
    expect(canTransition('pending', 'failed')).toBe(true);
    for (const end of ['done', 'failed', 'notSupported'] as const) expect(canTransition('active', end)).toBe(true);
    expect(canTransition('active', 'canceled')).toBe(false);
    expect(canTransition('active', 'pending')).toBe(false);
  });
});
