import { randomInt as cryptoRandomInt } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PasscodePolicy } from '../../../lib/core/model';
import { generatePasscode, isAcceptablePasscode } from '../../../lib/core/passcodeGenerator';
import type { RandomInt } from '../../../lib/ports';

/** sfc32 seeded through splitmix32: deterministic, well distributed, and unbiased over [min, max). */
function seededRandomInt(seed: number): RandomInt {
  let s = seed | 0;
  const splitmix32 = () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) | 0;
  };
  let a = splitmix32();
  let b = splitmix32();
  let c = splitmix32();
  let d = splitmix32();
  const nextUint32 = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  return (min, max) => {
    const range = max - min;
    // Drop the top sliver of 2^32 that range does not divide, so every value is exactly equally likely.
    const limit = Math.floor(2 ** 32 / range) * range;
    let x = nextUint32();
    while (x >= limit) x = nextUint32();
    return min + (x % range);
  };
}

/** A RandomInt that replays `values` in order, recording each call. */
function scriptedRandomInt(values: number[]) {
  const calls: Array<[number, number]> = [];
  let next = 0;
  const randomInt: RandomInt = (min, max) => {
    calls.push([min, max]);
    const value = values[next++];
    if (value === undefined) throw new Error('script exhausted');
    return value;
  };
  return { randomInt, calls };
}

/** An independent, deliberately naive statement of the complexity rules, to check isAcceptablePasscode against. */
function breaksComplexRulesNaively(passcode: string): boolean {
  const lower = passcode.toLowerCase();
  const sequences = ['0123456789', 'abcdefghijklmnopqrstuvwxyz'];
  for (let i = 0; i + 3 <= lower.length; i++) {
    const three = lower.slice(i, i + 3);
    if (three[0] === three[1] && three[1] === three[2]) return true;
    const reversed = [...three].reverse().join('');
    if (sequences.some((seq) => seq.includes(three) || seq.includes(reversed))) return true;
  }
  for (let i = 0; i + 4 <= passcode.length; i++) {
    const four = passcode.slice(i, i + 4);
    for (let start = 0; start <= 9; start++) {
      for (let step = -9; step <= 9; step++) {
        const run = [0, 1, 2, 3].map((k) => start + k * step);
        if (run.every((n) => n >= 0 && n <= 9) && run.join('') === four) return true;
      }
    }
  }
  return false;
}

const policyArbitrary = fc.record({
  minLength: fc.integer({ min: 4, max: 16 }),
  characters: fc.constantFrom('numeric' as const, 'alphanumeric' as const),
  complex: fc.boolean(),
});

const numericComplex: PasscodePolicy = { minLength: 4, characters: 'numeric', complex: true };
const alphanumericComplex: PasscodePolicy = { minLength: 4, characters: 'alphanumeric', complex: true };

describe('generatePasscode', () => {
  it('returns exactly minLength characters of the policy alphabet that the policy accepts, for any seed', () => {
    fc.assert(
      fc.property(policyArbitrary, fc.integer(), (policy, seed) => {
        const passcode = generatePasscode(policy, seededRandomInt(seed));
        expect(passcode).toHaveLength(policy.minLength);
        if (policy.characters === 'numeric') {
          expect(passcode).toMatch(/^[0-9]+$/);
        } else {
          expect(passcode).toMatch(/^[0-9A-Za-z]+$/);
          expect(passcode).toMatch(/[0-9]/);
          expect(passcode).toMatch(/[A-Za-z]/);
        }
        if (policy.complex) expect(breaksComplexRulesNaively(passcode)).toBe(false);
        expect(isAcceptablePasscode(passcode, policy)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('accepts randomness chosen by fast-check itself (any integer stream reduced into range)', () => {
    fc.assert(
      fc.property(policyArbitrary, fc.infiniteStream(fc.nat()), (policy, stream) => {
        const values = stream[Symbol.iterator]();
        const randomInt: RandomInt = (min, max) => min + (values.next().value! % (max - min));
        expect(isAcceptablePasscode(generatePasscode(policy, randomInt), policy)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('draws every character with randomInt(0, alphabet length)', () => {
    const numeric = scriptedRandomInt([5, 0, 8, 2]);
    generatePasscode(numericComplex, numeric.randomInt);
    expect(numeric.calls).toEqual([
      [0, 10],
      [0, 10],
      [0, 10],
      [0, 10],
    ]);

    const alphanumeric = scriptedRandomInt([10, 1, 61, 46]);
    expect(generatePasscode(alphanumericComplex, alphanumeric.randomInt)).toBe('A1zk');
    expect(alphanumeric.calls.every(([min, max]) => min === 0 && max === 62)).toBe(true);
  });

  it('regenerates the whole candidate when one breaks the complexity rules', () => {
    // 1234 is rejected; the next four draws form a fresh candidate rather than a patched 1234.
    const { randomInt, calls } = scriptedRandomInt([1, 2, 3, 4, 5, 0, 8, 2]);
    expect(generatePasscode(numericComplex, randomInt)).toBe('5082');
    expect(calls).toHaveLength(8);
  });

  it('regenerates an alphanumeric candidate that lacks a letter or a digit', () => {
    // 'AKUe' has no digit and '5082' no letter, so both are redrawn whole before 'A1zk'.
    const { randomInt } = scriptedRandomInt([10, 20, 30, 40, 5, 0, 8, 2, 10, 1, 61, 46]);
    expect(generatePasscode({ ...alphanumericComplex, complex: false }, randomInt)).toBe('A1zk');
  });

  it('keeps simple patterns when the policy is not complex', () => {
    const { randomInt } = scriptedRandomInt([1, 1, 1, 1, 1, 1]);
    expect(generatePasscode({ minLength: 6, characters: 'numeric', complex: false }, randomInt)).toBe('111111');
  });

  it('throws instead of looping forever when the random source is broken', () => {
    expect(() => generatePasscode(numericComplex, () => 0)).toThrow(/attempts/);
  });

  it('throws when randomInt returns a value outside [0, alphabet length)', () => {
    expect(() => generatePasscode(numericComplex, () => 10)).toThrow(/outside the range/);
    expect(() => generatePasscode(numericComplex, () => 0.5)).toThrow(/outside the range/);
  });

  it('works with crypto.randomInt, the source production passes', () => {
    for (const policy of [
      numericComplex,
      alphanumericComplex,
      { minLength: 16, characters: 'alphanumeric', complex: false } satisfies PasscodePolicy,
      { minLength: 6, characters: 'numeric', complex: false } satisfies PasscodePolicy,
    ]) {
      const passcode = generatePasscode(policy, cryptoRandomInt);
      expect(passcode).toHaveLength(policy.minLength);
      expect(isAcceptablePasscode(passcode, policy)).toBe(true);
    }
  });

  it('is uniform over the allowed numeric 4-digit complex codes (chi-square, p = 0.001)', () => {
    const allowed = Array.from({ length: 10_000 }, (_, n) => String(n).padStart(4, '0')).filter((code) =>
      isAcceptablePasscode(code, numericComplex),
    );
    const counts = new Map(allowed.map((code) => [code, 0]));
    const outsideAllowedSet: string[] = [];
    const samples = 200_000;
    const randomInt = seededRandomInt(20261126);
    for (let i = 0; i < samples; i++) {
      const code = generatePasscode(numericComplex, randomInt);
      const count = counts.get(code);
      if (count === undefined) outsideAllowedSet.push(code);
      else counts.set(code, count + 1);
    }
    expect(outsideAllowedSet).toEqual([]);

    const expected = samples / allowed.length;
    let statistic = 0;
    for (const observed of counts.values()) statistic += (observed - expected) ** 2 / expected;
    const degreesOfFreedom = allowed.length - 1;
    // Wilson–Hilferty: (X/k)^(1/3) is nearly normal with mean 1 - 2/(9k) and variance 2/(9k); z(0.999) = 3.0902.
    const v = 2 / (9 * degreesOfFreedom);
    const critical = degreesOfFreedom * (1 - v + 3.090232 * Math.sqrt(v)) ** 3;
    expect(statistic).toBeLessThan(critical);
    // Every allowed code came up: a generator that silently skipped some would fail here too.
    expect(Math.min(...counts.values())).toBeGreaterThan(0);
  });
});

describe('isAcceptablePasscode', () => {
  it.each([
    ['1111', 'four repeated digits'],
    ['1234', 'ascending digits'],
    ['4321', 'descending digits'],
    ['1357', 'step 2'],
    ['9630', 'step -3'],
    ['0369', 'step 3'],
    ['8642', 'step -2'],
    ['51238', 'three consecutive digits inside'],
    ['57772', 'three repeated digits inside'],
    ['13579', 'step 2 inside a longer code'],
  ])('rejects %s under a numeric complex policy (%s)', (passcode) => {
    expect(isAcceptablePasscode(passcode, numericComplex)).toBe(false);
  });

  it.each([
    ['2580', 'three digits with step 3 are only a run of four when a fourth follows'],
    ['1397', 'no pattern'],
    ['1246', 'step changes'],
    ['9035', 'no pattern'],
    ['112233', 'pairs are not three in a row'],
  ])('accepts %s under a numeric complex policy (%s)', (passcode) => {
    expect(isAcceptablePasscode(passcode, numericComplex)).toBe(true);
  });

  it.each([
    ['0000xx', 'four repeated digits'],
    ['abc1', 'consecutive letters'],
    ['cba1', 'descending letters'],
    ['aBc1', 'consecutive letters, mixed case'],
    ['777a', 'three repeated digits'],
    ['aAa1', 'three repeated letters, mixed case'],
    ['x1357', 'digit run with step 2'],
    ['x9630', 'digit run with step -3'],
    ['xyz9', 'consecutive letters at the end of the alphabet'],
  ])('rejects %s under an alphanumeric complex policy (%s)', (passcode) => {
    expect(isAcceptablePasscode(passcode, alphanumericComplex)).toBe(false);
  });

  it.each(['a1b2', 'Zx9q', '7kP3m', 'z9a0', 'ab1d'])('accepts %s under an alphanumeric complex policy', (passcode) => {
    expect(isAcceptablePasscode(passcode, alphanumericComplex)).toBe(true);
  });

  it('requires both a letter and a digit for alphanumeric, complex or not', () => {
    for (const complex of [true, false]) {
      const policy: PasscodePolicy = { minLength: 6, characters: 'alphanumeric', complex };
      expect(isAcceptablePasscode('583920', policy)).toBe(false);
      expect(isAcceptablePasscode('qwxzmp', policy)).toBe(false);
      expect(isAcceptablePasscode('qw5zmp', policy)).toBe(true);
    }
  });

  it('allows simple patterns when the policy is not complex', () => {
    expect(isAcceptablePasscode('1111', { ...numericComplex, complex: false })).toBe(true);
    expect(isAcceptablePasscode('abc1', { ...alphanumericComplex, complex: false })).toBe(true);
  });

  it('rejects codes that are too short or use characters outside the alphabet', () => {
    expect(isAcceptablePasscode('582', numericComplex)).toBe(false);
    expect(isAcceptablePasscode('58a2', numericComplex)).toBe(false);
    expect(isAcceptablePasscode('5 82', numericComplex)).toBe(false);
    expect(isAcceptablePasscode('a1-b2', alphanumericComplex)).toBe(false);
    expect(isAcceptablePasscode('a1éb', alphanumericComplex)).toBe(false);
  });

  it('accepts codes longer than minLength (the policy sets a minimum)', () => {
    expect(isAcceptablePasscode('583920', numericComplex)).toBe(true);
  });

  it('agrees with a naive statement of the rules on any string over the alphabet', () => {
    const alphabet = [...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'];
    // Mostly digits and a few nearby letters, so runs and repeats come up often.
    const character = fc.oneof(fc.constantFrom(...alphabet), fc.constantFrom(...'0123456789abcABC'));
    fc.assert(
      fc.property(fc.array(character, { minLength: 4, maxLength: 16 }), (chars) => {
        const passcode = chars.join('');
        const policy: PasscodePolicy = { minLength: 4, characters: 'alphanumeric', complex: true };
        const mixed = /[0-9]/.test(passcode) && /[A-Za-z]/.test(passcode);
        expect(isAcceptablePasscode(passcode, policy)).toBe(mixed && !breaksComplexRulesNaively(passcode));
      }),
      { numRuns: 2000 },
    );
  });
});
