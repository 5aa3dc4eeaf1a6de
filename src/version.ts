import { readFileSync } from "node:fs";

/** Name and version from our own package.json (read once; dist/ and src/ sit one level below it). */
function readPackage(): { name: string; version: string } {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    name: string;
    version: string;
  };
  return { name: pkg.name, version: pkg.version };
}

export const TOOL = readPackage();
