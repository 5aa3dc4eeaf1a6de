import { runAction } from "./main.js";

/** The Action's entry (bundled to dist-action/index.mjs): exit with the detection's code. */
process.exitCode = await runAction();
