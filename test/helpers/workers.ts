import { type ChildProcess, spawn } from "node:child_process";
import { BIN, cleanEnv, ROOT } from "./cli.js";

/** A `flaky-detector worker …` process as a user starts it; its stderr log is kept. */
export interface WorkerProcess {
  child: ChildProcess;
  log: () => string;
  /** Resolves when the log contains the text. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startWorker(args: string[], env: NodeJS.ProcessEnv = {}): WorkerProcess {
  const child = spawn(process.execPath, [BIN, "worker", ...args], {
    cwd: ROOT,
    env: { ...cleanEnv(), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stderr?.on("data", (d: Buffer) => {
    log += d.toString();
  });
  child.stdout?.on("data", (d: Buffer) => {
    log += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return {
    child,
    log: () => log,
    waitFor: async (text, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      const has = () => (typeof text === "string" ? log.includes(text) : text.test(log));
      while (!has()) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`worker log never showed ${String(text)}:\n${log}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
