// Flaky patterns with known failure probabilities, shared by the JavaScript example suites.
// Each example directory has its own copy so it runs on its own (`--repo examples/jest`).
// Every seeded decision derives from TEST_SEED and a label, so a seed reproduces it; the
// "concurrency" pattern is deliberately not seeded (a real race is not replayable).
"use strict";

function seededUniform(label) {
  let h = Number(process.env.TEST_SEED ?? Date.now()) >>> 0;
  for (const ch of label) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

const cache = new Map();

module.exports = {
  /** p = 0 */
  stable() {
    const total = (price, off) => price * (1 - off);
    return total(80, 0.25) === 60 ? null : "discount miscalculated";
  },
  /** p = 0.30: a race on the stock counter, decided by the seed. */
  random() {
    let stock = 1;
    stock -= 1;
    if (seededUniform("stock race") < 0.3) stock -= 1;
    return stock === 0 ? null : `stock went negative (${stock}): two orders reserved the last item`;
  },
  /** p = 0.20: a slow mail server, latency decided by the seed. */
  async timing() {
    const latencyMs = seededUniform("mail latency") < 0.2 ? 60 : 2;
    const limitMs = 30;
    const sent = await Promise.race([
      new Promise((r) => setTimeout(() => r(true), latencyMs)),
      new Promise((r) => setTimeout(() => r(false), limitMs)),
    ]);
    return sent ? null : `mail server answered after ${latencyMs} ms, limit ${limitMs} ms`;
  },
  /** p = 0.05: an off-by-one that only the smallest of 20 values hits. */
  boundary() {
    const cents = Math.floor(seededUniform("cents") * 20);
    return cents > 0 ? null : "rounded the last cent to -1 (off by one at the boundary)";
  },
  /** p = 0.25: fails for every seed divisible by 4, and always for that seed. */
  seedDependent() {
    const seed = Number(process.env.TEST_SEED ?? 1);
    return seed % 4 !== 0 ? null : `promotion week computed as 0 for seed ${seed}`;
  },
  /** p = 0.15, not reproducible by seed: two concurrent updates interleave badly. */
  async concurrency() {
    let cart = 0;
    const update = (n) => new Promise((r) => setTimeout(() => r(n), Math.random() * 2));
    const lostUpdate = Math.random() < 0.15;
    const [a, b] = await Promise.all([update(1), update(2)]);
    cart = lostUpdate ? Math.max(a, b) : a + b;
    return cart === 3 ? null : `cart total ${cart}, expected 3: a concurrent update was lost`;
  },
  /** Order dependence: fills a cache the next pattern reads. */
  warmCache() {
    cache.set("prices", [1, 2, 3]);
    return null;
  },
  /** p = 0 in the declared order; fails whenever it runs before warmCache (shuffled orders). */
  orderDependent() {
    return cache.has("prices") ? null : "price list not cached: this test relies on an earlier one";
  },
  /** p = 1 */
  broken() {
    return "card declined: the payment stub was removed";
  },
};
