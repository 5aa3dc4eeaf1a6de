// npm run bench: orchestration overhead against xargs -P, and peak memory under chatty attempts.
// Figures are medians of interleaved repetitions in one run, so machine noise hits both sides alike.
import { execFileSync, spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { median } from "./lib.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "dist/cli/bin.js");
const REPS = Number(process.env.BENCH_REPS ?? 5);
const only = process.argv[2];

function run(argv, opts = {}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const { ok: _ok, ...spawnOpts } = opts;
    const child = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "ignore", "pipe"], ...spawnOpts });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    let peakKb = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch {}
    }, 20);
    if (opts.input) child.stdin.end(opts.input);
    else child.stdin.end();
    child.on("error", reject);
    child.on("exit", (code) => {
      clearInterval(poll);
      if (!(opts.ok ?? [0]).includes(code))
        reject(new Error(`${argv.join(" ")} exited ${code}: ${stderr.slice(-500)}`));
      else resolve({ ms: performance.now() - started, peakKb });
    });
  });
}

/**
 * `flaky-detector run` over a fixed number of attempts at parallelism 2, without progress or
 * installs: all attempts run (adaptive stopping would end a healthy command near 72 and compare
 * nothing).
 */
const fixedRun = (runs, ...extra) => fixedRunOf(BIN, runs, ...extra);
const fixedRunOf = (bin, runs, ...extra) => [
  process.execPath,
  bin,
  "run",
  "--runs",
  String(runs),
  "--stop",
  "fixed",
  "--parallelism",
  "2",
  "--progress",
  "none",
  "--no-install",
  ...extra,
];

const results = { date: new Date().toISOString(), node: process.version, reps: REPS, benchmarks: {} };
const work = mkdtempSync(join(tmpdir(), "fd-bench-"));

try {
  if (!only || only === "overhead") {
    // 200 attempts of a ~50 ms command at parallelism 2: the detector vs xargs -P 2, same commands.
    const detector = [...fixedRun(200), "--", "sleep", "0.05"];
    const xargs = ["xargs", "-P", "2", "-I{}", "sleep", "0.05"];
    const input = Array.from({ length: 200 }, (_, i) => String(i)).join("\n");
    // BENCH_BASELINE=<another build's dist/cli/bin.js>: that build too, interleaved, for a
    // before/after ratio measured in the same run.
    const baseline = process.env.BENCH_BASELINE
      ? [...fixedRunOf(process.env.BENCH_BASELINE, 200), "--", "sleep", "0.05"]
      : null;
    // The floor for any Node orchestrator: the same 200 spawns over 2 slots and nothing else.
    const floor = [process.execPath, join(ROOT, "bench/spawn-floor.mjs"), "200", "2", "sleep", "0.05"];
    const d = [];
    const x = [];
    const b = [];
    const f = [];
    for (let i = 0; i < REPS; i++) {
      x.push((await run(xargs, { cwd: work, input })).ms);
      d.push((await run(detector, { cwd: work })).ms);
      f.push((await run(floor, { cwd: work })).ms);
      if (baseline) b.push((await run(baseline, { cwd: work })).ms);
    }
    const ratio = median(d) / median(x);
    results.benchmarks.overhead = {
      what: "200 attempts of `sleep 0.05` at parallelism 2: flaky-detector run vs xargs -P 2",
      detectorMs: d.map(Math.round),
      xargsMs: x.map(Math.round),
      detectorMedianMs: Math.round(median(d)),
      xargsMedianMs: Math.round(median(x)),
      ratio: Number(ratio.toFixed(3)),
      goal: "<= 1.10",
      met: ratio <= 1.1,
      nodeFloorMs: f.map(Math.round),
      nodeFloorMedianMs: Math.round(median(f)),
      nodeFloorRatio: Number((median(f) / median(x)).toFixed(3)),
      detectorOverFloor: Number((median(d) / median(f)).toFixed(3)),
      ...(baseline
        ? {
            baseline: process.env.BENCH_BASELINE,
            baselineMs: b.map(Math.round),
            baselineMedianMs: Math.round(median(b)),
            baselineRatio: Number((median(b) / median(x)).toFixed(3)),
          }
        : {}),
    };
    console.log(
      `overhead: detector ${Math.round(median(d))} ms vs xargs ${Math.round(median(x))} ms (median of ${REPS}); ratio ${ratio.toFixed(3)} (goal <= 1.10); bare Node spawn loop ${Math.round(median(f))} ms, ratio ${(median(f) / median(x)).toFixed(3)}${baseline ? `; baseline ${Math.round(median(b))} ms, ratio ${(median(b) / median(x)).toFixed(3)}` : ""}`,
    );
  }

  if (!only || only === "startup") {
    // Start-up: `--version` against bare node (the floor), and a one-attempt `run` of `true`
    // without and with history (the store's modules load only when recording).
    const reps = Math.max(REPS, 15);
    const bare = [];
    const version = [];
    const noHistory = [];
    const history = [];
    const env = { ...process.env, XDG_DATA_HOME: join(work, "startup-data") };
    const one = [process.execPath, BIN, "run", "--runs", "1", "--progress", "none", "--no-install"];
    for (let i = 0; i < reps; i++) {
      bare.push((await run([process.execPath, "-e", "0"], { cwd: work })).ms);
      version.push((await run([process.execPath, BIN, "--version"], { cwd: work })).ms);
      noHistory.push((await run([...one, "--no-history", "--", "true"], { cwd: work, env })).ms);
      history.push((await run([...one, "--", "true"], { cwd: work, env })).ms);
    }
    const m = (xs) => Math.round(median(xs));
    results.benchmarks.startup = {
      what: `median of ${reps}: node -e 0, flaky-detector --version, run --runs 1 -- true without and with history`,
      bareNodeMs: m(bare),
      versionMs: m(version),
      runNoHistoryMs: m(noHistory),
      runWithHistoryMs: m(history),
      versionOverBareNode: Number((median(version) / median(bare)).toFixed(2)),
      goal: "--version <= 250 ms",
      met: median(version) <= 250,
    };
    console.log(
      `startup: --version ${m(version)} ms (bare node ${m(bare)} ms); run --runs 1: ${m(noHistory)} ms --no-history, ${m(history)} ms with history (median of ${reps})`,
    );
  }

  if (!only || only === "events") {
    // The per-test event reporters' cost: 200 attempts of the bundled pytest, mocha, jest and vitest examples at
    // parallelism 2, with them (the default) and without (--no-events, results files only).
    const { execFileSync } = await import("node:child_process");
    const { cpSync } = await import("node:fs");
    const mochaDir = join(work, "mocha");
    cpSync(join(ROOT, "examples/mocha"), mochaDir, { recursive: true });
    execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--silent"], { cwd: mochaDir, stdio: "ignore" });
    const pyDir = join(work, "python");
    cpSync(join(ROOT, "examples/python"), pyDir, { recursive: true });
    const python = process.env.BENCH_PYTHON ?? "python3";
    const js = (name) => {
      const d = join(work, name);
      cpSync(join(ROOT, `examples/${name}`), d, { recursive: true });
      execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--silent"], { cwd: d, stdio: "ignore" });
      return d;
    };
    const all = {
      pytest: () => ({ cwd: pyDir, command: [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"] }),
      mocha: () => ({ cwd: mochaDir, command: ["npx", "mocha"] }),
      jest: () => ({ cwd: js("jest"), command: ["npx", "jest"] }),
      vitest: () => ({ cwd: js("vitest"), command: ["npx", "vitest", "run"] }),
    };
    // BENCH_EVENT_SUITES=jest,vitest measures some of them (each costs minutes).
    const chosen = (process.env.BENCH_EVENT_SUITES ?? Object.keys(all).join(",")).split(",");
    const suites = Object.fromEntries(chosen.map((name) => [name, all[name]()]));
    const eventReps = Math.max(1, Math.min(REPS, 3));
    results.benchmarks.events = { what: "", goal: "<= 1.05", suites: {} };
    for (const [name, suite] of Object.entries(suites)) {
      const base = fixedRun(200, "--no-history");
      const withEvents = [];
      const without = [];
      for (let i = 0; i < eventReps; i++) {
        without.push(
          (await run([...base, "--no-events", "--", ...suite.command], { cwd: suite.cwd, ok: [0, 1] })).ms,
        );
        withEvents.push((await run([...base, "--", ...suite.command], { cwd: suite.cwd, ok: [0, 1] })).ms);
      }
      const ratio = median(withEvents) / median(without);
      results.benchmarks.events.suites[name] = {
        withEventsMs: withEvents.map(Math.round),
        withoutMs: without.map(Math.round),
        withEventsMedianMs: Math.round(median(withEvents)),
        withoutMedianMs: Math.round(median(without)),
        ratio: Number(ratio.toFixed(3)),
        met: ratio <= 1.05,
      };
      console.log(
        `events (${name}): with ${Math.round(median(withEvents))} ms vs without ${Math.round(median(without))} ms (median of ${eventReps}); ratio ${ratio.toFixed(3)} (goal <= 1.05)`,
      );
    }
    results.benchmarks.events.what =
      "200 attempts of examples/python (pytest), examples/mocha, examples/jest and examples/vitest at parallelism 2: per-test event reporters on (default) vs --no-events";
  }

  if (!only || only === "memory") {
    // 1,000 attempts each printing 1 MB: the detector's peak RSS (VmHWM).
    const detector = [
      ...fixedRun(1000, "--json", join(work, "m.json")),
      "--",
      process.execPath,
      join(ROOT, "test/fixtures/bin/chatty.mjs"),
      "1",
    ];
    const peaks = [];
    const times = [];
    const memReps = Math.max(1, Math.min(REPS, 3));
    for (let i = 0; i < memReps; i++) {
      const r = await run(detector, { cwd: work });
      peaks.push(r.peakKb / 1024);
      times.push(r.ms);
    }
    const baseline = await run([process.execPath, "-e", "setTimeout(() => {}, 300)"], { cwd: work });
    const peak = Math.max(...peaks);
    results.benchmarks.memory = {
      what: "1,000 attempts each printing 1 MB of text lines at parallelism 2, JSON report written: peak RSS (VmHWM) of the detector",
      peakRssMb: peaks.map((p) => Number(p.toFixed(1))),
      maxPeakRssMb: Number(peak.toFixed(1)),
      idleNodeRssMb: Number((baseline.peakKb / 1024).toFixed(1)),
      medianWallMs: Math.round(median(times)),
      goal: "<= 150 MB",
      met: peak <= 150,
    };
    console.log(
      `memory: peak RSS ${peak.toFixed(1)} MB over ${memReps} runs (idle node ${(baseline.peakKb / 1024).toFixed(1)} MB); goal <= 150 MB`,
    );
  }
  if (!only || only === "timeout") {
    // A hanging command with --timeout 1: wall time of the whole CLI run (one attempt), against
    // `node -e 0` so node's own start-up is visible as the baseline.
    const hang = [
      process.execPath,
      BIN,
      "run",
      "--runs",
      "1",
      "--timeout",
      "1",
      "--progress",
      "none",
      "--no-install",
      "--",
      process.execPath,
      join(ROOT, "test/fixtures/bin/hang.mjs"),
    ];
    const walls = [];
    const starts = [];
    for (let i = 0; i < REPS; i++) {
      starts.push((await run([process.execPath, "-e", "0"], { cwd: work })).ms);
      walls.push((await run(hang, { cwd: work })).ms);
    }
    results.benchmarks.timeout = {
      what: "flaky-detector run --runs 1 --timeout 1 on a command that hangs: wall time of the CLI",
      wallMs: walls.map(Math.round),
      medianWallMs: Math.round(median(walls)),
      nodeStartMedianMs: Math.round(median(starts)),
    };
    console.log(
      `timeout: hanging command with --timeout 1 ends after ${Math.round(median(walls))} ms (node start-up ${Math.round(median(starts))} ms)`,
    );
  }

  if (!only || only === "junit") {
    // Parse a 50,000-testcase JUnit file (Surefire-like: classes, some failures with stack traces, skips).
    const { parseJUnit } = await import("../dist/parsers/junit.js");
    const parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>'];
    for (let c = 0; c < 500; c++) {
      parts.push(`<testsuite name="com.example.Suite${c}" tests="100">`);
      for (let t = 0; t < 100; t++) {
        const i = c * 100 + t;
        if (i % 50 === 0) {
          parts.push(
            `<testcase name="test${t}" classname="com.example.Suite${c}" time="0.01"><failure message="expected &lt;1&gt; but was &lt;2&gt;" type="AssertionError">at com.example.Suite${c}.test${t}(Suite${c}.java:${t})\n\tat java.base/jdk.internal.reflect.Method.invoke</failure></testcase>`,
          );
        } else if (i % 97 === 0) {
          parts.push(
            `<testcase name="test${t}" classname="com.example.Suite${c}" time="0"><skipped/></testcase>`,
          );
        } else {
          parts.push(`<testcase name="test${t}" classname="com.example.Suite${c}" time="0.003"/>`);
        }
      }
      parts.push("</testsuite>");
    }
    parts.push("</testsuites>");
    const xml = parts.join("\n");
    const rates = [];
    for (let i = 0; i < REPS; i++) {
      const started = performance.now();
      const tests = parseJUnit(xml);
      const ms = performance.now() - started;
      if (tests.length !== 50000) throw new Error(`parsed ${tests.length} test cases, expected 50000`);
      rates.push(50000 / (ms / 1000));
    }
    results.benchmarks.junitParse = {
      what: "parse a 50,000-testcase JUnit file (500 suites, 2% failures with stack traces)",
      bytes: xml.length,
      casesPerSecond: rates.map(Math.round),
      medianCasesPerSecond: Math.round(median(rates)),
      goal: ">= 100,000 test cases per second",
      met: median(rates) >= 100000,
    };
    console.log(
      `junit: ${Math.round(median(rates)).toLocaleString("en")} test cases/s parsing a 50,000-case file (${(xml.length / 1e6).toFixed(1)} MB), median of ${REPS}`,
    );
  }

  if (only === "adaptive" || (!only && process.env.BENCH_ADAPTIVE !== "0")) {
    // Adaptive vs fixed on real example runs (go: fast to run), same job seed, same budget.
    const variants = [
      { label: "go example, all 9 tests", extra: [] },
      {
        label: "go example, 4 tests away from band edges (0, 0.3, 0, 1)",
        extra: [
          "TestAppliesDiscount",
          "TestReservesStock",
          "TestWarmsPriceCache",
          "TestChargesSavedCard",
        ].flatMap((t) => ["--test", `example.com/checkout.${t}`]),
      },
    ];
    const rows = [];
    for (const v of variants) {
      const row = { label: v.label };
      for (const stop of ["fixed", "adaptive"]) {
        const file = join(work, `${stop}.json`);
        const r = await run(
          [
            process.execPath,
            BIN,
            "run",
            "--repo",
            join(ROOT, "examples/go"),
            "--runs",
            "200",
            "--seed",
            "1",
            "--stop",
            stop,
            "--progress",
            "none",
            "--json",
            file,
            ...v.extra,
            "--",
            "go",
            "test",
            "./...",
          ],
          { cwd: work },
        ).catch((e) => ({ error: e.message }));
        const rep = JSON.parse(readFileSync(file, "utf8"));
        row[stop] = {
          attempts: rep.summary.attempts,
          wallMs: Math.round(r.ms ?? 0),
          verdicts: Object.fromEntries(rep.tests.map((t) => [t.id.split(".").pop(), t.verdict])),
        };
      }
      row.attemptShare = Number((row.adaptive.attempts / row.fixed.attempts).toFixed(3));
      row.wallShare = Number((row.adaptive.wallMs / row.fixed.wallMs).toFixed(3));
      row.identicalVerdicts = JSON.stringify(row.adaptive.verdicts) === JSON.stringify(row.fixed.verdicts);
      rows.push(row);
      console.log(
        `adaptive: ${v.label}: ${row.adaptive.attempts} vs ${row.fixed.attempts} attempts (${(row.attemptShare * 100).toFixed(0)}%), wall ${row.adaptive.wallMs} vs ${row.fixed.wallMs} ms, identical verdicts: ${row.identicalVerdicts}`,
      );
    }
    results.benchmarks.adaptive = {
      what: "examples/go at 200 runs, --stop adaptive vs fixed, job seed 1",
      rows,
    };
  }

  if (only === "focus" || (!only && process.env.BENCH_ADAPTIVE !== "0")) {
    // Focus (docs/design/stopping.md): examples/node-test at 200 runs, adaptive with focus against
    // adaptive running the whole command every time, same job seed: test executions, wall, verdicts.
    const row = {};
    for (const [arm, extra] of [
      ["whole", ["--no-focus"]],
      ["focus", []],
    ]) {
      const file = join(work, `focus-${arm}.json`);
      const r = await run(
        [
          process.execPath,
          BIN,
          "run",
          "--repo",
          join(ROOT, "examples/node-test"),
          "--runs",
          "200",
          "--seed",
          "424242",
          "--progress",
          "none",
          "--no-history",
          "--json",
          file,
          ...extra,
          "--",
          "node",
          "--test",
        ],
        { cwd: work },
      );
      const rep = JSON.parse(readFileSync(file, "utf8"));
      row[arm] = {
        attempts: rep.summary.attempts,
        testExecutions: rep.attempts.reduce(
          (n, a) => n + (a.tests ? a.tests.passed + a.tests.failed.length : 0),
          0,
        ),
        wallMs: Math.round(r.ms),
        verdicts: Object.fromEntries(rep.tests.map((t) => [t.name, `${t.verdict} ${t.severity}`])),
      };
    }
    row.executionShare = Number((row.focus.testExecutions / row.whole.testExecutions).toFixed(3));
    row.wallShare = Number((row.focus.wallMs / row.whole.wallMs).toFixed(3));
    row.sameVerdicts = Object.keys(row.whole.verdicts).every(
      (k) => row.whole.verdicts[k].split(" ")[0] === row.focus.verdicts[k]?.split(" ")[0],
    );
    results.benchmarks.focus = {
      what: "examples/node-test at 200 runs, job seed 424242: adaptive with focus vs --no-focus",
      goal: "<= 50% of the test executions, same verdicts",
      met: row.executionShare <= 0.5 && row.sameVerdicts,
      ...row,
    };
    console.log(
      `focus: ${row.focus.testExecutions} vs ${row.whole.testExecutions} test executions (${(row.executionShare * 100).toFixed(1)}%), wall ${row.focus.wallMs} vs ${row.whole.wallMs} ms, same verdicts: ${row.sameVerdicts}`,
    );
  }

  if (!only || only === "isolation") {
    // Setup cost of isolation for 4 slots of a workspace with a 6,000-file node_modules:
    // per-slot copy with shared dependency folders (what we do) vs copying everything.
    const { copyTree, SHARED_DEPENDENCY_DIRS } = await import("../dist/util/copy-tree.js");
    const ws = join(work, "ws");
    for (let i = 0; i < 200; i++) {
      mkdirSync(join(ws, "src", `m${i % 10}`), { recursive: true });
      writeFileSync(join(ws, "src", `m${i % 10}`, `f${i}.js`), "x".repeat(2000));
    }
    for (let i = 0; i < 6000; i++) {
      mkdirSync(join(ws, "node_modules", `pkg${i % 300}`), { recursive: true });
      writeFileSync(join(ws, "node_modules", `pkg${i % 300}`, `f${i}.js`), "y".repeat(4000));
    }
    const slots = 4;
    const timeIt = async (opts) => {
      const dirs = Array.from({ length: slots }, () => mkdtempSync(join(work, "slot-")));
      const started = performance.now();
      await Promise.all(dirs.map((d) => copyTree(ws, d, opts)));
      const ms = performance.now() - started;
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
      return ms;
    };
    const shared = [];
    const full = [];
    for (let i = 0; i < REPS; i++) {
      full.push(await timeIt({}));
      shared.push(await timeIt({ share: SHARED_DEPENDENCY_DIRS }));
    }
    results.benchmarks.isolation = {
      what: "4 slot copies of a workspace (200 source files, node_modules of 6,000 files / 24 MB)",
      sharedDepsMs: shared.map(Math.round),
      fullCopyMs: full.map(Math.round),
      sharedDepsMedianMs: Math.round(median(shared)),
      fullCopyMedianMs: Math.round(median(full)),
      ratio: Number((median(shared) / median(full)).toFixed(3)),
    };
    console.log(
      `isolation: 4 slots with shared node_modules ${Math.round(median(shared))} ms vs full copies ${Math.round(median(full))} ms (median of ${REPS})`,
    );
  }
  if (!only || only === "install") {
    // A job's install with the install cache off, storing into an empty cache, and reused from it:
    // `run --repo` of a checkout of test/fixtures/projects/reporters (npm ci of jest, mocha, vitest,
    // Playwright Test), one attempt of `node -e 0`; install times from the reports' timings.
    const repo = join(work, "install-origin");
    cpSync(join(ROOT, "test/fixtures/projects/reporters"), repo, {
      recursive: true,
      filter: (src) => !src.includes("node_modules"),
    });
    const git = (...args) =>
      execFileSync("git", args, {
        cwd: repo,
        stdio: "ignore",
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: "b",
          GIT_AUTHOR_EMAIL: "b@b",
          GIT_COMMITTER_NAME: "b",
          GIT_COMMITTER_EMAIL: "b@b",
        },
      });
    git("init", "-q", "-b", "main");
    git("add", "-A");
    git("commit", "-qm", "fixture");
    const report = join(work, "install-report.json");
    const job = (cache) =>
      run(
        [
          process.execPath,
          BIN,
          "run",
          "--runs",
          "1",
          "--no-history",
          "--progress",
          "none",
          "--repo",
          `file://${repo}`,
          "--json",
          report,
          "--",
          "node",
          "-e",
          "0",
        ],
        { cwd: work, env: { ...process.env, FLAKY_DETECTOR_INSTALL_CACHE: cache } },
      ).then((r) => {
        const rep = JSON.parse(readFileSync(report, "utf8"));
        return { wallMs: r.ms, installMs: rep.timings.installMs, use: rep.installCache?.[0]?.use ?? "off" };
      });
    const warm = join(work, "install-cache-warm");
    await job(warm);
    const off = [];
    const store = [];
    const reuse = [];
    for (let i = 0; i < REPS; i++) {
      off.push(await job("off"));
      const empty = join(work, `install-cache-${i}`);
      store.push(await job(empty));
      rmSync(empty, { recursive: true, force: true });
      reuse.push(await job(warm));
    }
    const uses = [...store, ...reuse].map((r) => r.use);
    const m = (xs, k) => Math.round(median(xs.map((x) => x[k])));
    results.benchmarks.install = {
      what: `median of ${REPS}: npm ci of test/fixtures/projects/reporters in a run --repo job, install cache off / storing / reused`,
      offInstallMs: m(off, "installMs"),
      storeInstallMs: m(store, "installMs"),
      reusedInstallMs: m(reuse, "installMs"),
      offWallMs: m(off, "wallMs"),
      reusedWallMs: m(reuse, "wallMs"),
      reusedOverOff: Number(
        (median(reuse.map((r) => r.installMs)) / median(off.map((r) => r.installMs))).toFixed(3),
      ),
      uses: { store: store.map((r) => r.use), reuse: reuse.map((r) => r.use) },
    };
    if (uses.slice(0, REPS).some((u) => u !== "stored") || uses.slice(REPS).some((u) => u !== "reused"))
      throw new Error(`install bench: the cache was not used as expected: ${uses.join(", ")}`);
    console.log(
      `install: npm ci ${m(off, "installMs")} ms; storing ${m(store, "installMs")} ms; reused ${m(reuse, "installMs")} ms (median of ${REPS}); job wall ${m(off, "wallMs")} vs ${m(reuse, "wallMs")} ms`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

mkdirSync(join(ROOT, "bench/results"), { recursive: true });
const out = join(ROOT, "bench/results", only ? `latest-${only}.json` : "latest.json");
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
console.log(`results written to ${out}`);
