import { XMLParser } from "fast-xml-parser";
import { type ParsedTest, ResultParseError, type TestStatus } from "./types.js";

/**
 * JUnit XML in the dialects real tools write: Ant/Surefire (`testsuites > testsuite > testcase`),
 * nested suites (Jest, Playwright, node:test describe blocks), a bare `testsuite` root, Surefire's
 * `flakyFailure`/`flakyError` (passed after reruns) and `rerunFailure`/`rerunError` (failed every
 * rerun), `skipped`, `error`, properties, and node:test's `failure` attribute.
 */

export interface JUnitCase {
  name: string;
  classname: string | null;
  file: string | null;
  line: number | null;
  /** Names of the enclosing suites, outermost first (the root `testsuites` excluded). */
  suites: string[];
  status: TestStatus;
  message: string | null;
  durationMs: number | null;
  reruns: { failed: number; messages: string[] };
  properties: Record<string, string>;
}

const ARRAYS = new Set([
  "testsuite",
  "testcase",
  "failure",
  "error",
  "skipped",
  "flakyFailure",
  "flakyError",
  "rerunFailure",
  "rerunError",
  "property",
]);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "",
  textNodeName: "#text",
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  isArray: (name) => ARRAYS.has(name),
});

type Node = Record<string, unknown>;

export function parseJUnitCases(xml: string): JUnitCase[] {
  let doc: Node;
  try {
    doc = parser.parse(xml, true) as Node;
  } catch (e) {
    throw new ResultParseError("junit", `not well-formed XML: ${(e as Error).message.split("\n")[0]}`);
  }
  const cases: JUnitCase[] = [];
  const root = (doc.testsuites as Node | undefined) ?? undefined;
  if (root) walkSuite(root, [], cases, true);
  else if (doc.testsuite) for (const s of doc.testsuite as Node[]) walkSuite(s, [], cases, false);
  else throw new ResultParseError("junit", "no <testsuites> or <testsuite> element");
  return cases;
}

function walkSuite(suite: Node, path: string[], out: JUnitCase[], isRoot: boolean): void {
  const name = typeof suite.name === "string" ? suite.name : "";
  const here = isRoot || name === "" ? path : [...path, name];
  for (const tc of (suite.testcase as Node[] | undefined) ?? []) out.push(toCase(tc, here));
  for (const child of (suite.testsuite as Node[] | undefined) ?? []) walkSuite(child, here, out, false);
}

function text(node: unknown): string {
  if (typeof node === "string") return node;
  if (node && typeof node === "object") {
    const n = node as Node;
    const message = typeof n.message === "string" ? n.message : "";
    const body = typeof n["#text"] === "string" ? (n["#text"] as string).trim() : "";
    if (message && body && !body.includes(message)) return `${message}\n${body}`;
    return message || body;
  }
  return "";
}

function toCase(tc: Node, suites: string[]): JUnitCase {
  const list = (k: string) => (tc[k] as unknown[] | undefined) ?? [];
  const failures = [...list("failure"), ...list("error")];
  const reruns = [...list("rerunFailure"), ...list("rerunError")];
  const flaky = [...list("flakyFailure"), ...list("flakyError")];
  let status: TestStatus = "passed";
  let message: string | null = null;
  if (failures.length > 0 || typeof tc.failure === "string" || reruns.length > 0) {
    status = "failed";
    message = text(failures[0] ?? reruns[0] ?? tc.failure) || "failed";
  } else if (list("skipped").length > 0 || tc.skipped === "" || tc.status === "skipped") {
    status = "skipped";
  }
  const props: Record<string, string> = {};
  const propsNode = tc.properties as Node | undefined;
  for (const p of (propsNode?.property as Node[] | undefined) ?? []) {
    if (typeof p.name === "string") props[p.name] = typeof p.value === "string" ? p.value : text(p);
  }
  const time = Number(tc.time);
  const line = Number(tc.line);
  return {
    name: String(tc.name ?? ""),
    classname: typeof tc.classname === "string" && tc.classname !== "" ? tc.classname : null,
    file: typeof tc.file === "string" && tc.file !== "" ? tc.file : null,
    line: Number.isFinite(line) && tc.line !== undefined ? line : null,
    suites,
    status,
    message,
    durationMs: Number.isFinite(time) && tc.time !== undefined ? Math.round(time * 1000) : null,
    reruns: {
      failed: status === "failed" ? reruns.length : flaky.length,
      messages: (status === "failed" ? reruns : flaky).map(text),
    },
    properties: props,
  };
}

/**
 * Default identity: `file::Class::name` when the file is known (pytest's node id: classname
 * `tests.test_orders.TestCart` in file `tests/test_orders.py` gives `tests/test_orders.py::TestCart::name`),
 * else `classname::name`, else the suite path.
 */
export function defaultJUnitId(c: JUnitCase): string {
  if (c.file) {
    const moduleName = c.file.replace(/\.[^./]+$/, "").replace(/\//g, ".");
    const classes =
      c.classname?.startsWith(`${moduleName}.`) === true
        ? c.classname.slice(moduleName.length + 1).split(".")
        : [];
    return [c.file, ...classes, c.name].join("::");
  }
  if (c.classname) return `${c.classname}::${c.name}`;
  return [...c.suites, c.name].join(" > ");
}

export function parseJUnit(xml: string, idOf: (c: JUnitCase) => string = defaultJUnitId): ParsedTest[] {
  return parseJUnitCases(xml).map((c) => ({
    id: idOf(c),
    name: c.name,
    file: c.file,
    status: c.status,
    message: c.message,
    durationMs: c.durationMs,
    ...(c.reruns.failed > 0 ? { reruns: c.reruns } : {}),
    ...(Object.keys(c.properties).length > 0 ? { properties: c.properties } : {}),
    ...(c.line !== null ? { line: c.line } : {}),
  }));
}
