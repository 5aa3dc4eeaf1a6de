import type { Framework } from "../config/schema.js";
import { cargo } from "./cargo.js";
import { go } from "./go.js";
import { jest } from "./jest.js";
import { command, junitGlob } from "./junit-glob.js";
import { mocha } from "./mocha.js";
import { nodeTest } from "./node-test.js";
import { playwright } from "./playwright.js";
import { pytest } from "./pytest.js";
import type { FrameworkAdapter } from "./types.js";
import { vitest } from "./vitest.js";

export type {
  FrameworkAdapter,
  ListedTest,
  Listing,
  ParseContext,
  PrepareContext,
  Prepared,
} from "./types.js";

/** Name → adapter. Adding a framework is one file and one line here. */
export const ADAPTERS: Record<Exclude<Framework, "auto">, FrameworkAdapter> = {
  pytest,
  jest,
  vitest,
  mocha,
  "node-test": nodeTest,
  go,
  cargo,
  playwright,
  junit: junitGlob,
  command,
};

/** Detection order: the first adapter whose pattern matches the command wins. */
const DETECT_ORDER: FrameworkAdapter[] = [pytest, go, cargo, playwright, vitest, jest, mocha, nodeTest];

export function detectFramework(argv: readonly string[]): FrameworkAdapter | undefined {
  return DETECT_ORDER.find((a) => a.matches(argv));
}
