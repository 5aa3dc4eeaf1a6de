// Builds the GitHub Action from src/action/: the bundled entry dist-action/index.mjs (committed, as
// GitHub runs it without installing anything) and action.yml (inputs and outputs from
// src/action/definition.ts). `--check` rebuilds in memory and fails when either committed file
// differs from what the sources give — CI's guard against a stale bundle.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import YAML from "yaml";
import { NODE_BUNDLE, REQUIRE_BANNER, zodEnglishOnly } from "./esbuild-options.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const check = process.argv.includes("--check");
const BUNDLE = "dist-action/index.mjs";

const common = {
  ...NODE_BUNDLE,
  write: false,
  absWorkingDir: root,
  plugins: [zodEnglishOnly],
  logLevel: "warning",
};

const entry = await build({
  ...common,
  entryPoints: ["src/action/index.ts"],
  outfile: BUNDLE,
  legalComments: "eof",
  banner: REQUIRE_BANNER,
});
const bundle = entry.outputFiles[0].text;

const def = await build({ ...common, entryPoints: ["src/action/definition.ts"], outfile: "definition.mjs" });
const { INPUTS, OUTPUTS } = await import(
  `data:text/javascript;base64,${Buffer.from(def.outputFiles[0].text).toString("base64")}`
);
const action = {
  name: "flaky-detector",
  description:
    "Rerun the tests that failed in CI many times and say which are flaky, how flaky, and how sure we are.",
  author: "flaky-detector",
  branding: { icon: "activity", color: "orange" },
  inputs: Object.fromEntries(
    Object.entries(INPUTS).map(([name, d]) => [
      name,
      {
        description: d.description,
        required: false,
        ...(d.default !== undefined ? { default: d.default } : {}),
      },
    ]),
  ),
  outputs: Object.fromEntries(
    Object.entries(OUTPUTS).map(([name, d]) => [name, { description: d.description }]),
  ),
  runs: { using: "node24", main: BUNDLE },
};
const yml = `# Generated from src/action/definition.ts by \`npm run build:action\`; do not edit.\n${YAML.stringify(action, { lineWidth: 0 })}`;

const files = [
  [BUNDLE, bundle],
  ["action.yml", yml],
];
if (check) {
  const stale = files.filter(([path, text]) => {
    try {
      return readFileSync(join(root, path), "utf8") !== text;
    } catch {
      return true;
    }
  });
  if (stale.length > 0) {
    console.error(
      `${stale.map(([p]) => p).join(" and ")} ${stale.length === 1 ? "does" : "do"} not match the sources: run \`npm run build:action\` and commit the result`,
    );
    process.exit(1);
  }
  console.log(`${files.map(([p]) => p).join(" and ")} match the sources`);
} else {
  for (const [path, text] of files) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
    console.log(`wrote ${path} (${Math.round(text.length / 1024)} KiB)`);
  }
}
