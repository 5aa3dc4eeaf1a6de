// Helpers shared by the benchmarks: medians of interleaved repetitions, rounding for the results
// files, and timing a command's wall and CPU seconds.
import { spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/**
 * Runs argv under GNU time: wall seconds and CPU seconds of the process and every child it waited
 * for (a detector's CPU includes its test processes', as xargs' includes its children's).
 */
export function timed(argv, { cwd, input, ok = [0], env }) {
  return new Promise((resolve, reject) => {
    const file = join(cwd, `time-${process.hrtime.bigint()}.txt`);
    const child = spawn("/usr/bin/time", ["-f", "%e %U %S", "-o", file, ...argv], {
      cwd,
      stdio: ["pipe", "ignore", "pipe"],
      ...(env ? { env } : {}),
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.stdin.end(input ?? "");
    child.on("error", reject);
    child.on("exit", (code) => {
      if (!ok.includes(code))
        return reject(new Error(`${argv.join(" ")} exited ${code}: ${stderr.slice(-800)}`));
      const [wall, user, sys] = readFileSync(file, "utf8").trim().split("\n").at(-1).split(" ").map(Number);
      rmSync(file, { force: true });
      resolve({ wallS: wall, cpuS: Number((user + sys).toFixed(2)) });
    });
  });
}
