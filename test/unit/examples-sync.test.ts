import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";

describe("examples", () => {
  it("keep their copies of patterns.cjs identical (each example must run alone, so they cannot share one)", () => {
    const copies = ["node-test", "jest", "vitest", "mocha"].map((d) =>
      readFileSync(join(ROOT, "examples", d, "patterns.cjs"), "utf8"),
    );
    for (const c of copies.slice(1)) expect(c).toBe(copies[0]);
  });
});
