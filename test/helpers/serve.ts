import { type ChildProcess, spawn } from "node:child_process";
import { BIN, cleanEnv, ROOT } from "./cli.js";

export interface Served {
  url: string;
  child: ChildProcess;
  stderr: () => string;
  stop(): Promise<number | null>;
}

/** `flaky-detector serve` as a user starts it (built CLI, a free port), until stop(). */
export function serve(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Served> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "serve", "--port", "0", "--log-level", "warn", ...args], {
      cwd: ROOT,
      env: { ...cleanEnv(), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /dashboard: (http:\/\/[^\s/]+)\//.exec(out);
      if (m)
        resolve({
          url: m[1] as string,
          child,
          stderr: () => err,
          stop: async () => {
            child.kill("SIGTERM");
            return exited;
          },
        });
    });
    child.on("error", reject);
    void exited.then((code) => reject(new Error(`serve exited ${code} before listening: ${err}`)));
  });
}
