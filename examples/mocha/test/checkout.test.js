// Checkout suite with known flakiness (probabilities per run, see ../../README.md and patterns.cjs).
const p = require("../patterns.cjs");

const check = async (fn) => {
  const problem = await fn();
  if (problem !== null) throw new Error(problem);
};

describe("checkout", () => {
  it("applies a percentage discount", () => check(p.stable)); // p = 0
  it("reserves stock for the order", () => check(p.random)); // p = 0.30
  it("sends the receipt in time", () => check(p.timing)); // p = 0.20
  it("rounds the last cent", () => check(p.boundary)); // p = 0.05
  it("applies the weekly promotion", () => check(p.seedDependent)); // p = 0.25, seed-deterministic
  it("merges concurrent cart updates", () => check(p.concurrency)); // p = 0.15, not seed-reproducible
  it("warms the price cache", () => check(p.warmCache)); // p = 0
  it("reads the cached price list", () => check(p.orderDependent)); // p = 0 in order, 0.5 shuffled
  it("charges the saved card", () => check(p.broken)); // p = 1
});
