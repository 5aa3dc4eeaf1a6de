import type { RawLayer } from "../config/layer.js";

/** Command-line flags that set config keys: flag name → key path. One table, used both ways. */
export const FLAG_KEYS = {
  runs: ["runs"],
  parallelism: ["parallelism"],
  timeout: ["timeout"],
  "job-timeout": ["job_timeout"],
  "kill-grace": ["kill_grace"],
  framework: ["framework"],
  stop: ["stop"],
  confidence: ["confidence"],
  "min-detectable-rate": ["min_detectable_rate"],
  shuffle: ["shuffle"],
  focus: ["focus"],
  repeat: ["repeat"],
  isolation: ["isolation"],
  seed: ["seed"],
  "shard-size": ["shard_size"],
  "fail-on": ["fail_on"],
  install: ["auto_install_dependencies"],
  events: ["event_reporters"],
  "preserve-temp-dir": ["preserve_temp_dir"],
  "save-full-output": ["save_full_output"],
} as const satisfies Record<string, readonly string[]>;

type FlagName = keyof typeof FLAG_KEYS;

/** Commander option names are camelCase. */
function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Numbers are converted only when they look like numbers, so a bad value reaches the schema as typed. */
function toValue(raw: unknown): unknown {
  if (typeof raw === "string" && /^-?\d+(\.\d+)?(e-?\d+)?$/i.test(raw.trim())) return Number(raw);
  return raw;
}

export function flagsLayer(options: Record<string, unknown>, given: (name: string) => boolean): RawLayer {
  const values: Record<string, unknown> = {};
  for (const [flag, path] of Object.entries(FLAG_KEYS)) {
    const key = camel(flag);
    if (!given(key)) continue;
    const [first] = path as readonly string[];
    values[first as string] = toValue(options[key]);
  }
  const byKey = new Map<string, FlagName>(
    Object.entries(FLAG_KEYS).map(([flag, path]) => [path.join("."), flag as FlagName]),
  );
  return {
    values,
    origin: {
      label: "command line",
      where: (path) => {
        const flag = byKey.get(path.map(String).join("."));
        const name = flag === "install" || flag === "events" ? `no-${flag}` : flag;
        return flag ? `from --${name}` : "from the command line";
      },
    },
  };
}
