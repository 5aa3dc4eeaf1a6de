// Completes dist/dashboard after tsc: the page, its stylesheet and the vendored Chart.js build,
// so the installed package serves the dashboard with no CDN and no network.
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "dashboard");
mkdirSync(join(out, "vendor"), { recursive: true });
for (const f of ["index.html", "style.css"]) copyFileSync(join(root, "src", "dashboard", f), join(out, f));
const require = createRequire(import.meta.url);
const chartDir = dirname(dirname(require.resolve("chart.js")));
copyFileSync(join(chartDir, "dist", "chart.umd.min.js"), join(out, "vendor", "chart.umd.min.js"));
copyFileSync(join(chartDir, "LICENSE.md"), join(out, "vendor", "chart.js-LICENSE.md"));
