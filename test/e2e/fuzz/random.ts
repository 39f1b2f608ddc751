/** A seeded pseudo-random source: the same seed replays the same run (FUZZ_SEED). */
export interface Random {
  readonly seed: number;
  /** [0, 1). */
  float(): number;
  /** An integer in [min, max], both included. */
  int(min: number, max: number): number;
  chance(probability: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** Picks by weight: `[[value, weight], …]`. */
  weighted<T>(entries: readonly (readonly [T, number])[]): T;
  /** A seed for another generator (fast-check's), drawn from this one. */
  nextSeed(): number;
}

/** mulberry32: tiny, fast and good enough to spread test cases (not for anything secret). */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const float = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const int = (min: number, max: number) => min + Math.floor(float() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[int(0, items.length - 1)] as T;
  };
  return {
    seed,
    float,
    int,
    chance: (probability) => float() < probability,
    pick,
    weighted: (entries) => {
      const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
      let roll = float() * total;
      for (const [value, weight] of entries) {
        roll -= weight;
        if (roll < 0) return value;
      }
      return pick(entries)[0];
    },
    nextSeed: () => int(0, 0x7fffffff),
  };
}

/** FUZZ_SEED when set (to replay a failure), otherwise a fresh one. */
export function fuzzSeed(env: NodeJS.ProcessEnv, fresh: () => number): number {
  const text = env.FUZZ_SEED?.trim();
  if (!text) return fresh();
  const seed = Number(text);
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new Error(`FUZZ_SEED must be a non-negative integer, not '${text}'`);
  return seed;
}
