// How often serial confirmation calls a test that fails at one rate everywhere "interference"
// (every serial run passed), under the exact rule we use and the plug-in rule it replaced, with
// fixed and adaptive main phases. Uses the built functions (dist/); deterministic PRNG.
// node bench/interference.mjs [jobs]  → prints a markdown table, writes bench/results/latest-interference.json
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { confirmRuns, MAX_CONFIRM_RUNS } from "../dist/analysis/interference.js";
import { checkpoints, settleState } from "../dist/analysis/stopping.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const JOBS = Number(process.argv[2] ?? 20000);
const CONFIDENCE = 0.95;
const thresholds = { critical: 0.9, high: 0.5, medium: 0.1, low: 0 };

let state = 20261201;
const rand = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 2 ** 32;
};

/** The rejected rule: least n with (1 − k/N)^n < 1 − confidence, capped like the exact one. */
function pluginRuns(attempts, failures) {
  const rate = failures / attempts;
  const n = Math.floor(Math.log(1 - CONFIDENCE) / Math.log(1 - rate)) + 1;
  return n > MAX_CONFIRM_RUNS ? 0 : Math.max(1, n);
}

/** Main phase: fixed N, or the adaptive rule with a budget (the test alone decides when to stop). */
function mainPhase(p, design) {
  if (design.fixed) {
    let k = 0;
    for (let i = 0; i < design.fixed; i++) if (rand() < p) k++;
    return { n: design.fixed, k };
  }
  const rule = { confidence: CONFIDENCE, minDetectableRate: 0.05, thresholds, budget: design.budget };
  const looks = new Set(checkpoints(rule));
  let k = 0;
  for (let n = 1; n <= design.budget; n++) {
    if (rand() < p) k++;
    if (looks.has(n) && settleState(n, k, rule) !== "open") return { n, k };
  }
  return { n: design.budget, k };
}

/** Serial runs until one fails or `runs` pass: true when all passed (the test is called interference). */
function allPass(p, runs) {
  for (let i = 0; i < runs; i++) if (rand() < p) return { clean: false, used: i + 1 };
  return { clean: true, used: runs };
}

const designs = [{ fixed: 30 }, { fixed: 60 }, { fixed: 200 }, { budget: 200 }];
const rates = [0.03, 0.05, 0.125, 0.2, 0.3, 0.5, 0.8];
const rows = [];
for (const design of designs) {
  for (const p of rates) {
    const tally = { exact: 0, plugin: 0, flaky: 0, exactRuns: 0, pluginRuns: 0, exactNone: 0 };
    for (let j = 0; j < JOBS; j++) {
      const { n, k } = mainPhase(p, design);
      if (k === 0 || k === n) continue;
      tally.flaky++;
      const exact = confirmRuns(n, k, CONFIDENCE);
      const plugin = pluginRuns(n, k);
      if (exact === 0) tally.exactNone++;
      if (exact > 0) {
        const r = allPass(p, exact);
        tally.exactRuns += r.used;
        if (r.clean) tally.exact++;
      }
      if (plugin > 0) {
        const r = allPass(p, plugin);
        tally.pluginRuns += r.used;
        if (r.clean) tally.plugin++;
      }
    }
    rows.push({
      main: design.fixed ? `fixed ${design.fixed}` : `adaptive (budget ${design.budget})`,
      p,
      flakyJobs: tally.flaky,
      falseInterferenceExact: Number((tally.exact / Math.max(1, tally.flaky)).toFixed(4)),
      falseInterferencePlugin: Number((tally.plugin / Math.max(1, tally.flaky)).toFixed(4)),
      meanSerialRunsExact: Number((tally.exactRuns / Math.max(1, tally.flaky)).toFixed(1)),
      meanSerialRunsPlugin: Number((tally.pluginRuns / Math.max(1, tally.flaky)).toFixed(1)),
      notConfirmedExact: Number((tally.exactNone / Math.max(1, tally.flaky)).toFixed(4)),
    });
  }
}

console.log(
  `| main phase | true rate | called interference: exact | plug-in (rejected) | serial runs: exact | plug-in | too few failures to confirm |`,
);
console.log(`|---|---|---|---|---|---|---|`);
for (const r of rows) {
  const pc = (x) => `${(x * 100).toFixed(1)}%`;
  console.log(
    `| ${r.main} | ${r.p} | ${pc(r.falseInterferenceExact)} | ${pc(r.falseInterferencePlugin)} | ${r.meanSerialRunsExact} | ${r.meanSerialRunsPlugin} | ${pc(r.notConfirmedExact)} |`,
  );
}
const out = join(ROOT, "bench", "results");
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, "latest-interference.json"),
  `${JSON.stringify({ jobs: JOBS, confidence: CONFIDENCE, maxConfirmRuns: MAX_CONFIRM_RUNS, rows }, null, 2)}\n`,
);
