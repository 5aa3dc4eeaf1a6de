// The floor of process-per-attempt orchestration in Node: N runs of a command over P slots, each
// slot spawning the next as soon as its last one exits, with nothing else (no capture, no
// results, no process-group cleanup). bench/run.mjs times it beside xargs -P and the detector:
// what Node's spawn itself costs against xargs, and what the detector adds on top.
// Usage: node bench/spawn-floor.mjs <runs> <parallelism> <command> [args...]
import { spawn } from "node:child_process";

const [runs, parallelism, file, ...args] = process.argv.slice(2);
let next = 0;
const slot = async () => {
  while (next < Number(runs)) {
    next++;
    await new Promise((resolve, reject) => {
      const child = spawn(file, args, { stdio: "ignore" });
      child.on("error", reject);
      child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${file} exited ${code}`))));
    });
  }
};
await Promise.all(Array.from({ length: Number(parallelism) }, slot));
