import * as z from "zod";
import { configFileSchema } from "./schema.js";

/** JSON Schema of `.flaky-detector.yml`, for editors (yaml-language-server) and docs. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configFileSchema, { target: "draft-2020-12", io: "input" }) as Record<
    string,
    unknown
  >;
  return {
    title: "flaky-detector configuration (.flaky-detector.yml)",
    ...schema,
  };
}
