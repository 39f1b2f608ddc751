import type { RandomInt } from '../ports';
import type { PasscodePolicy } from './model';

const DIGITS = '0123456789';
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * Far above what any policy needs: the worst accepted fraction (alphanumeric minLength 4, about one candidate in
 * two, since all-letter candidates lack a digit) makes reaching this cap a 2^-1000 event, so hitting it means the
 * injected randomness is broken (for example a constant), not bad luck.
 */
const MAX_ATTEMPTS = 1000;

/** The characters a passcode under `policy` is drawn from. */
function passcodeAlphabet(policy: PasscodePolicy): string {
  return policy.characters === 'numeric' ? DIGITS : DIGITS + LETTERS;
}

/**
 * A new passcode of exactly `policy.minLength` characters, uniform over every passcode the policy accepts.
 * Pass `crypto.randomInt` in production; a passcode is a secret, so the randomness must be cryptographic.
 */
export function generatePasscode(policy: PasscodePolicy, randomInt: RandomInt): string {
  const alphabet = passcodeAlphabet(policy);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    // Each candidate is uniform over all strings of the length; keeping only the acceptable ones (and redrawing
    // the whole candidate, never patching a character) leaves the result uniform over the acceptable set.
    const candidate = drawCandidate(alphabet, policy.minLength, randomInt);
    if (isAcceptablePasscode(candidate, policy)) return candidate;
  }
  throw new Error(`no acceptable passcode after ${MAX_ATTEMPTS} attempts; the random source looks broken`);
}

function drawCandidate(alphabet: string, length: number, randomInt: RandomInt): string {
  let candidate = '';
  for (let i = 0; i < length; i++) {
    const index = randomInt(0, alphabet.length);
    const char = Number.isInteger(index) ? alphabet[index] : undefined;
    if (char === undefined) throw new Error(`randomInt(0, ${alphabet.length}) returned ${index}, outside the range`);
    candidate += char;
  }
  return candidate;
}

/** Whether `passcode` satisfies `policy`: length, alphabet, letter and digit mix, and the complexity rules. */
export function isAcceptablePasscode(passcode: string, policy: PasscodePolicy): boolean {
  if (passcode.length < policy.minLength) return false;
  const alphabet = passcodeAlphabet(policy);
  if (![...passcode].every((c) => alphabet.includes(c))) return false;
  // Device policies (Exchange ActiveSync, iOS, Android "alphanumeric") take alphanumeric to mean at least one
  // letter AND one digit, so an all-digit or all-letter code could be refused by the device it is meant for.
  if (policy.characters === 'alphanumeric' && !(/[0-9]/.test(passcode) && /[A-Za-z]/.test(passcode))) return false;
  return !policy.complex || !hasSimplePattern(passcode);
}

/** Whether `passcode` has a pattern a complex policy forbids (docs/DESIGN.md "Passcode generation"). */
function hasSimplePattern(passcode: string): boolean {
  return hasRepeatOrSequence(passcode) || hasDigitProgression(passcode);
}

/** Three characters in a row with step 0 (aaa, 777) or ±1 (abc, cba, 123, 321). */
function hasRepeatOrSequence(passcode: string): boolean {
  // Letters are compared case-insensitively ("aAa", "aBc") because people read and recall them that way; digits
  // ('0'-'9') and letters ('a'-'z') have non-adjacent char codes, so no run of step 0 or ±1 mixes the two.
  const codes = [...passcode.toLowerCase()].map((c) => c.charCodeAt(0));
  for (let i = 0; i + 2 < codes.length; i++) {
    const step = codes[i + 1]! - codes[i]!;
    if (Math.abs(step) <= 1 && codes[i + 2]! - codes[i + 1]! === step) return true;
  }
  return false;
}

/** Four consecutive digits with any constant step (1111, 1234, 1357, 9630). */
function hasDigitProgression(passcode: string): boolean {
  for (let i = 0; i + 3 < passcode.length; i++) {
    const window = passcode.slice(i, i + 4);
    if (!/^[0-9]{4}$/.test(window)) continue;
    const d = [...window].map(Number);
    const step = d[1]! - d[0]!;
    if (d[2]! - d[1]! === step && d[3]! - d[2]! === step) return true;
  }
  return false;
}
