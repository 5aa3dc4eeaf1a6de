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
