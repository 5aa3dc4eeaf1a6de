import { isAbsolute, resolve as resolvePath } from "node:path";
import { ConfigError, type ConfigProblem, InternalError } from "../errors.js";
import { defaultConfig } from "./defaults.js";
import { envLayer } from "./env.js";
import { type RawLayer, type ValidatedLayer, validateLayer } from "./layer.js";
import { findConfigFile, loadConfigFile } from "./load-file.js";
import { crossFieldProblems, mergeLayers } from "./merge.js";
import { type Config, configSchema } from "./schema.js";

export interface ResolveOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Explicit config file (--config); otherwise FLAKY_DETECTOR_CONFIG, then .flaky-detector.yml in cwd. */
  configPath?: string;
  /** Values from the command line or a job input: the highest precedence. */
  overrides?: RawLayer;
  /** Skip the config file entirely (job inputs on a server carry everything they need). */
  noFile?: boolean;
}

export interface ResolvedConfig {
  config: Config;
  warnings: string[];
  configFile?: string;
}

/** defaults < config file < environment < flags (or job input). Every problem of every layer is reported at once. */
export function resolveConfig(opts: ResolveOptions): ResolvedConfig {
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const layers: ValidatedLayer[] = [];

  const explicit = opts.configPath ?? opts.env.FLAKY_DETECTOR_CONFIG;
  const configFile = opts.noFile
    ? undefined
    : explicit
      ? isAbsolute(explicit)
        ? explicit
        : resolvePath(opts.cwd, explicit)
      : findConfigFile(opts.cwd);

  const take = (raw: RawLayer, allowAliases = false) => {
    const result = validateLayer(raw, { allowAliases });
    problems.push(...result.problems);
    warnings.push(...result.warnings);
    if (result.layer) layers.push(result.layer);
  };

  if (configFile) take(loadConfigFile(configFile, opts.cwd), true);
  const env = envLayer(opts.env);
  problems.push(...env.problems);
  take(env.layer);
  if (opts.overrides) take(opts.overrides);

  if (problems.length > 0) throw new ConfigError(problems);
  const config = mergeLayers(defaultConfig(), layers);
  const crossProblems = crossFieldProblems(config);
  if (crossProblems.length > 0) throw new ConfigError(crossProblems, "E_CONFIG_RULE");
  const check = configSchema.safeParse(config);
  if (!check.success) {
    throw new InternalError("E_CONFIG_MERGE", `merged configuration is invalid: ${check.error.message}`);
  }
  return configFile ? { config: check.data, warnings, configFile } : { config: check.data, warnings };
}
