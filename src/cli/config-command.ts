import { stringify } from "yaml";
import { configJsonSchema } from "../config/json-schema.js";
import { resolveConfig } from "../config/resolve.js";
import { EXIT } from "../errors.js";
import type { CliIo } from "./io.js";

export function configValidate(options: { config?: string }, io: CliIo): number {
  const { configFile, warnings } = resolveConfig({
    cwd: io.cwd,
    env: io.env,
    ...(options.config !== undefined ? { configPath: options.config } : {}),
  });
  for (const w of warnings) io.stderr.write(`warning: ${w}\n`);
  io.stdout.write(
    configFile
      ? `ok: ${configFile} is valid\n`
      : "ok: no config file found; built-in defaults and environment are valid\n",
  );
  return EXIT.ok;
}

export function configPrint(options: { config?: string; json?: boolean }, io: CliIo): number {
  const { config } = resolveConfig({
    cwd: io.cwd,
    env: io.env,
    ...(options.config !== undefined ? { configPath: options.config } : {}),
  });
  // Webhook URLs are secrets: show that they are set, never their value.
  const shown = {
    ...config,
    notify: {
      ...config.notify,
      slack_webhook: config.notify.slack_webhook ? "(set)" : null,
      discord_webhook: config.notify.discord_webhook ? "(set)" : null,
    },
  };
  io.stdout.write(options.json ? `${JSON.stringify(shown, null, 2)}\n` : stringify(shown));
  return EXIT.ok;
}

export function configSchema(io: CliIo): number {
  io.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  return EXIT.ok;
}
