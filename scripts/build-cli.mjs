// Bundles the command-line entry after tsc: dist/cli/bin.js and its lazily loaded chunks
// (dist/cli/bundle-*.js), with the pure-JavaScript packages it uses inside. Node 20 pays for every
// ES module it resolves, reads, compiles and links: a run loaded ~200 of them, ~475 with history
// (kysely alone is ~270 files), which was most of a short run's start. tsc's per-module output
// stays in dist/ for the library entry (dist/index.js).
//
// Kept outside the bundle: native and optional modules (better-sqlite3, pg) so that a missing or
// unloadable one fails only the path that needs it, and the server and queue packages (fastify,
// pino, bullmq), which read files beside themselves at run time and are not on a run's path.
// dist/cli/bundle.json maps each output file to the packages it holds (the startup test reads it).
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { NODE_BUNDLE, REQUIRE_BANNER, zodEnglishOnly } from "./esbuild-options.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "cli");

const EXTERNAL = [
  "better-sqlite3",
  "pg",
  "pg-native",
  "fastify",
  "@fastify/*",
  "pino",
  "bullmq",
  "ioredis",
  "light-my-request",
];

// Chunks of an earlier build would otherwise ship with the package.
for (const f of readdirSync(out)) if (/^bundle-.*\.js$/.test(f)) rmSync(join(out, f));

const result = await build({
  ...NODE_BUNDLE,
  absWorkingDir: root,
  entryPoints: { bin: "src/cli/bin.ts" },
  outdir: out,
  // Chunks sit beside bin.js, one level below dist/ like the modules they replace, so paths
  // resolved from import.meta.url (../dashboard/) stay right.
  splitting: true,
  chunkNames: "bundle-[hash]",
  external: EXTERNAL,
  banner: REQUIRE_BANNER,
  legalComments: "eof",
  metafile: true,
  plugins: [zodEnglishOnly],
  logLevel: "warning",
});

const packageOf = (input) => {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  return m ? m[1] : null;
};
const map = {};
for (const [file, output] of Object.entries(result.metafile.outputs)) {
  const packages = new Set(Object.keys(output.inputs).map(packageOf).filter(Boolean));
  const imported = output.imports.filter((i) => i.external).map((i) => packageOf(`node_modules/${i.path}/`));
  map[file.replace(/^dist\/cli\//, "")] = {
    packages: [...packages].sort(),
    externals: [...new Set(imported.filter((p) => p && !p.startsWith("node:")))].sort(),
  };
}
writeFileSync(join(out, "bundle.json"), `${JSON.stringify(map, null, 2)}\n`);
