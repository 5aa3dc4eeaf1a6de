// npm run docs: regenerate docs/config.md and the JSON Schema from the built schema.
import { writeFileSync } from "node:fs";
import { configJsonSchema } from "../dist/config/json-schema.js";
import { configReferenceMarkdown } from "../dist/config/reference.js";

writeFileSync(new URL("../docs/config.md", import.meta.url), configReferenceMarkdown());
writeFileSync(
  new URL("../docs/flaky-detector.schema.json", import.meta.url),
  `${JSON.stringify(configJsonSchema(), null, 2)}\n`,
);
console.log("wrote docs/config.md and docs/flaky-detector.schema.json");
