// Prints the one line CI reads ("N passed, N failed[, N skipped]") from vitest's JSON results.
// Exits non-zero when the results are missing or no test ran: a run that executes nothing is worthless.
import { existsSync, readFileSync } from "node:fs";

const file = process.argv[2] ?? "test-artifacts/vitest-results.json";
if (!existsSync(file)) {
  console.log("0 passed, 1 failed");
  console.error(`no test results at ${file}: the test run did not complete`);
  process.exit(1);
}
const r = JSON.parse(readFileSync(file, "utf8"));
const passed = r.numPassedTests ?? 0;
// Files that failed to load count as failures too: their tests never ran.
const failed =
  (r.numFailedTests ?? 0) +
  (r.testResults ?? []).filter((f) => f.status === "failed" && f.assertionResults.length === 0).length;
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(passed + failed === 0 || failed > 0 ? 1 : 0);
