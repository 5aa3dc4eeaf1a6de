import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import YAML from "yaml";
import { INPUTS, OUTPUTS } from "../../src/action/definition.js";
import { inputVariable } from "../../src/action/inputs.js";
import { ROOT } from "../helpers/cli.js";

describe("the committed Action", () => {
  test("dist-action/index.mjs and action.yml are what the sources build (npm run build:action)", () => {
    const out = execFileSync(process.execPath, [join(ROOT, "scripts/build-action.mjs"), "--check"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(out).toContain("match the sources");
  }, 60_000);

  test("action.yml runs the bundle on node24 and declares exactly the inputs and outputs of definition.ts", () => {
    const action = YAML.parse(readFileSync(join(ROOT, "action.yml"), "utf8"));
    expect(action.runs).toEqual({ using: "node24", main: "dist-action/index.mjs" });
    expect(Object.keys(action.inputs)).toEqual(Object.keys(INPUTS));
    expect(Object.keys(action.outputs)).toEqual(Object.keys(OUTPUTS));
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression
    expect(action.inputs["github-token"].default).toBe("${{ github.token }}");
  });

  test("docs/action.md documents every input and output (npm run docs)", () => {
    const doc = readFileSync(join(ROOT, "docs/action.md"), "utf8");
    for (const name of [...Object.keys(INPUTS), ...Object.keys(OUTPUTS)])
      expect(doc).toContain(`| \`${name}\` |`);
  });

  test("input variables follow the runner's naming (hyphens kept, upper case)", () => {
    expect(inputVariable("github-token")).toBe("INPUT_GITHUB-TOKEN");
    expect(inputVariable("runs")).toBe("INPUT_RUNS");
  });
});
