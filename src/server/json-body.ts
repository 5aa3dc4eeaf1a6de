import type { FastifyInstance } from "fastify";
import { BadRequest } from "./params.js";

/**
 * JSON bodies are checked for depth before they are parsed: JSON.parse itself copes with deep
 * nesting, but every recursive walk after it (prototype-poisoning scan, validation, error
 * messages) would overflow the stack on a body nested thousands of levels deep. No request we
 * accept nests deeper than a handful of levels.
 */
export const MAX_JSON_DEPTH = 64;

/** Deepest nesting of arrays and objects in JSON text (strings skipped), stopping past `limit`. */
export function jsonDepth(text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

/** Replace Fastify's JSON parser with one that refuses over-deep bodies first (a 400, not a 500). */
export function registerJsonBodyParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (req, body, done) => {
    const text = body as string;
    if (jsonDepth(text) > MAX_JSON_DEPTH) {
      done(
        new BadRequest([
          {
            path: "",
            message: `the request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep; no field of this API needs more than a few`,
          },
        ]),
        undefined,
      );
      return;
    }
    parse(req, text, done);
  });
}
