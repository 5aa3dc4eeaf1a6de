import { dirname, join } from "node:path";

// What the CLI bundle (build-cli.mjs) and the Action bundle (build-action.mjs) share.

/** Node ESM bundles of our TypeScript sources. */
export const NODE_BUNDLE = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
};

/** Some bundled CommonJS packages call require() for Node built-ins; ESM output needs one. */
export const REQUIRE_BANNER = {
  js: 'import { createRequire as __flakyRequire } from "node:module";\nconst require = __flakyRequire(import.meta.url);',
};

/**
 * zod re-exports every translation of its error messages (`z.locales`, ~370 KB of source); we use
 * none of them (messages are English, which zod sets up itself from locales/en.js), and Node reads
 * and pre-parses all of it on every start that validates a setting.
 */
export const zodEnglishOnly = {
  name: "zod-english-only",
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](classic|core)[\\/]/.test(args.importer)
        ? {
            // A path of its own, not the machine's: it is printed in the committed Action bundle.
            path: "zod/v4/locales/index.js",
            namespace: "zod-english-only",
            pluginData: join(dirname(args.importer), "..", "locales"),
          }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "zod-english-only" }, (args) => ({
      contents: 'export { default as en } from "./en.js";',
      resolveDir: args.pluginData,
    }));
  },
};
