// Writes the inputs and outputs tables of docs/action.md from src/action/definition.ts (through
// dist/), between the generated markers; `npm run docs` runs it.
import { readFileSync, writeFileSync } from "node:fs";
import { INPUTS, OUTPUTS } from "../dist/action/definition.js";

const file = new URL("../docs/action.md", import.meta.url);
const cell = (s) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
const table = [
  "| input | default | meaning |",
  "|---|---|---|",
  ...Object.entries(INPUTS).map(
    ([name, d]) =>
      `| \`${name}\` | ${d.default !== undefined ? `\`${d.default}\`` : ""} | ${cell(d.description)} |`,
  ),
  "",
  "| output | meaning |",
  "|---|---|",
  ...Object.entries(OUTPUTS).map(([name, d]) => `| \`${name}\` | ${cell(d.description)} |`),
].join("\n");
const text = readFileSync(file, "utf8");
const start = "<!-- generated:inputs -->";
const end = "<!-- /generated:inputs -->";
const i = text.indexOf(start);
const j = text.indexOf(end);
if (i < 0 || j < 0) throw new Error("docs/action.md lacks the generated markers");
writeFileSync(file, `${text.slice(0, i + start.length)}\n${table}\n${text.slice(j)}`);
console.log("wrote the inputs and outputs of docs/action.md");
