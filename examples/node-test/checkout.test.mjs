// A checkout suite with known flakiness, for `npm run demo`. Every random decision derives from
// TEST_SEED and the test's name, so one seed reproduces one outcome exactly.
//
// True failure probabilities (per run):
//   applies a percentage discount ........ 0    (stable)
//   reserves stock for the order ......... 0.20 (random: a simulated race on the stock counter)
//   sends the receipt before the timeout . 0.10 (timing: a simulated slow mail server)
// The whole command fails when any test fails: 1 - (1 - 0.20) * (1 - 0.10) = 0.28.
import assert from "node:assert/strict";
import { test } from "node:test";

function seededUniform(name) {
  let h = Number(process.env.TEST_SEED ?? Date.now()) >>> 0;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

test("applies a percentage discount", () => {
  const total = 80 * (1 - 0.25);
  assert.equal(total, 60);
});

test("reserves stock for the order", () => {
  let stock = 1;
  // Two buyers race for the last item; 20% of interleavings let both through.
  const bothThrough = seededUniform("reserves stock") < 0.2;
  stock -= 1;
  if (bothThrough) stock -= 1;
  assert.equal(stock, 0, "stock went negative: two orders reserved the last item");
});

test("sends the receipt before the timeout", async () => {
  const latencyMs = seededUniform("receipt latency") < 0.1 ? 80 : 5;
  const timeoutMs = 50;
  const sent = await Promise.race([
    new Promise((resolve) => setTimeout(() => resolve(true), latencyMs)),
    new Promise((resolve) => setTimeout(() => resolve(false), timeoutMs)),
  ]);
  assert.ok(sent, `mail server answered after ${latencyMs} ms, timeout ${timeoutMs} ms`);
});
