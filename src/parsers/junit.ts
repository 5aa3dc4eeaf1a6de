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
  /** The failure's message attribute and body, combined. */
  message: string | null;
  /** The failure element's body alone (stack trace, diff), when there is one. */
  body: string | null;
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

/** Deepest element nesting read (fast-xml-parser refuses deeper documents instead of recursing). */
const MAX_NESTING = 100;

const parser = new XMLParser({
  maxNestedTags: MAX_NESTING,
  ignoreAttributes: false,
  // Prefixed: node:test writes both a failure *attribute* and a <failure> element on one testcase.
  attributeNamePrefix: "@_",
  textNodeName: "#text",
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  // Numeric character references (&#10; in Surefire's messages) are XML, not only HTML.
  htmlEntities: true,
  isArray: (name) => ARRAYS.has(name),
});

type Node = Record<string, unknown>;

export function parseJUnitCases(xml: string): JUnitCase[] {
  let doc: Node;
  try {
    doc = parser.parse(xml, true) as Node;
  } catch (e) {
    const reason = (e as Error).message.split("\n")[0] ?? "";
    if (/nested tags/i.test(reason)) {
      throw new ResultParseError(
        "junit",
        `elements nest more than ${MAX_NESTING} levels deep, which no JUnit writer produces; the file is damaged or not a test report`,
      );
    }
    throw new ResultParseError("junit", `not well-formed XML: ${reason}`);
  }
  const cases: JUnitCase[] = [];
  const root = (doc.testsuites as Node | undefined) ?? undefined;
  if (root) walkSuite(root, [], cases, true);
  else if (doc.testsuite) for (const s of doc.testsuite as Node[]) walkSuite(s, [], cases, false);
  else throw new ResultParseError("junit", "no <testsuites> or <testsuite> element");
  return cases;
}

function walkSuite(suite: Node, path: string[], out: JUnitCase[], isRoot: boolean, file?: string): void {
  const name = attr(suite, "name") ?? "";
  const here = isRoot || name === "" ? path : [...path, name];
  // mocha-junit-reporter names the file on the suite, not on its testcases.
  const suiteFile = attr(suite, "file") || file;
  for (const tc of (suite.testcase as Node[] | undefined) ?? []) out.push(toCase(tc, here, suiteFile));
  for (const child of (suite.testsuite as Node[] | undefined) ?? [])
    walkSuite(child, here, out, false, suiteFile);
}

function attr(node: Node, name: string): string | undefined {
  const v = node[`@_${name}`];
  return typeof v === "string" ? v : undefined;
}

function text(node: unknown): string {
  if (typeof node === "string") return node;
  if (node && typeof node === "object") {
    const n = node as Node;
    const message = attr(n, "message") ?? "";
    const body = typeof n["#text"] === "string" ? (n["#text"] as string).trim() : "";
    if (message && body && !body.includes(message)) return `${message}\n${body}`;
    return message || body;
  }
  return "";
}

function toCase(tc: Node, suites: string[], suiteFile: string | undefined): JUnitCase {
  const list = (k: string) => (tc[k] as unknown[] | undefined) ?? [];
  const failures = [...list("failure"), ...list("error")];
  const reruns = [...list("rerunFailure"), ...list("rerunError")];
  const flaky = [...list("flakyFailure"), ...list("flakyError")];
  let status: TestStatus = "passed";
  let message: string | null = null;
  let body: string | null = null;
  if (failures.length > 0 || attr(tc, "failure") !== undefined || reruns.length > 0) {
    status = "failed";
    message = text(failures[0] ?? reruns[0] ?? attr(tc, "failure")) || "failed";
    const first = (failures[0] ?? reruns[0]) as Node | string | undefined;
    const raw =
      typeof first === "string"
        ? first
        : typeof first?.["#text"] === "string"
          ? (first["#text"] as string)
          : "";
    body = raw.trim() === "" ? null : raw.trim();
  } else if (list("skipped").length > 0 || attr(tc, "status") === "skipped") {
    status = "skipped";
  }
  const props: Record<string, string> = {};
  const propsNode = tc.properties as Node | undefined;
  for (const p of (propsNode?.property as Node[] | undefined) ?? []) {
    const key = attr(p, "name");
    if (key !== undefined) props[key] = attr(p, "value") ?? text(p);
  }
  const time = Number(attr(tc, "time"));
  const line = Number(attr(tc, "line"));
  const classname = attr(tc, "classname");
  const file = attr(tc, "file") || suiteFile;
  return {
    name: attr(tc, "name") ?? "",
    classname: classname ? classname : null,
    file: file ? file : null,
    line: Number.isFinite(line) && attr(tc, "line") !== undefined ? line : null,
    suites,
    status,
    message,
    body,
    durationMs: Number.isFinite(time) && attr(tc, "time") !== undefined ? Math.round(time * 1000) : null,
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

export function parseJUnit(
  xml: string,
  idOf: (c: JUnitCase) => string = defaultJUnitId,
  messageOf: (c: JUnitCase) => string | null = (c) => c.message,
): ParsedTest[] {
  return parseJUnitCases(xml).map((c) => ({
    id: idOf(c),
    name: c.name,
    file: c.file,
    status: c.status,
    message: c.status === "failed" ? messageOf(c) : c.message,
    durationMs: c.durationMs,
    ...(c.reruns.failed > 0 ? { reruns: c.reruns } : {}),
    ...(Object.keys(c.properties).length > 0 ? { properties: c.properties } : {}),
    ...(c.line !== null ? { line: c.line } : {}),
  }));
}
