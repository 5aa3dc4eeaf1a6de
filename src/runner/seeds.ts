import { randomInt } from "node:crypto";

/**
 * Seeds. Every attempt's seed is a pure function of (job seed, attempt index), so a whole job is
 * replayed by passing its job seed back with --seed, whatever order the slots ran attempts in.
 */

export function randomJobSeed(): number {
  return randomInt(0, 2 ** 32 - 1);
}

/** murmur3's 32-bit finalizer: cheap and well mixed. */
function fmix32(h: number): number {
  let x = h >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

export function attemptSeed(jobSeed: number, index: number, range: { min: number; max: number }): number {
  const hi = fmix32(jobSeed ^ fmix32(index + 0x9e3779b9));
  const lo = fmix32(hi ^ Math.imul(index + 1, 0x27d4eb2f));
  // 53 bits of mixed state modulo the range: bias below 2^-20 for any 32-bit range.
  const mixed = (hi % 2 ** 21) * 2 ** 32 + lo;
  const span = range.max - range.min + 1;
  return range.min + (mixed % span);
}
