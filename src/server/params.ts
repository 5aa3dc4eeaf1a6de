import * as z from "zod";

/**
 * Query-string validation for the read API. A bad parameter is a 400 that lists every problem by
 * parameter name with the value received and what would be accepted, like config errors do.
 */

export interface Problem {
  path: string;
  message: string;
  value?: unknown;
}

export class BadRequest extends Error {
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
    super(problems.map((p) => `${p.path}: ${p.message}`).join("; "));
    this.problems = problems;
  }
}

const instant = z
  .string()
  .max(40)
  .refine(
    (v) => /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v) && !Number.isNaN(Date.parse(v)),
    {
      message: "expected an ISO date such as 2026-11-01 or 2026-11-01T12:00:00Z",
    },
  )
  .transform((v) => new Date(v).toISOString());

const count = (max: number, fallback: number) =>
  z.coerce
    .number({ message: "expected a whole number" })
    .int({ message: "expected a whole number" })
    .min(0, { message: `expected 0..${max}` })
    .max(max, { message: `expected 0..${max}` })
    .default(fallback);

const lower = <T extends readonly [string, ...string[]]>(values: T) =>
  z
    .string()
    .transform((v) => v.toLowerCase())
    .pipe(z.enum(values, { message: `expected one of ${values.join(", ")}` }));

export const windowQuery = z.strictObject({
  repository: z.string().min(1).max(2000).optional(),
  since: instant.optional(),
  until: instant.optional(),
});

export const detectionsQuery = windowQuery.extend({
  verdict: lower(["stable", "flaky", "failing", "error", "skipped"] as const).optional(),
  severity: lower(["critical", "high", "medium", "low", "none"] as const).optional(),
  branch: z.string().min(1).max(500).optional(),
  sort: z
    .enum(["startedAt", "failureRate", "durationMs"], {
      message: "expected startedAt, failureRate or durationMs",
    })
    .default("startedAt"),
  order: z.enum(["asc", "desc"], { message: "expected asc or desc" }).default("desc"),
  limit: count(500, 50),
  offset: count(10_000_000, 0),
});

export const topQuery = windowQuery.extend({
  minAttempts: count(1_000_000, 20),
  limit: count(500, 20),
});

export const trendQuery = windowQuery.extend({
  test: z.string().min(1).max(4000).optional(),
});

export const testQuery = z.strictObject({
  repository: z.string().min(1).max(2000),
  id: z.string().min(1).max(4000),
  limit: count(1000, 200),
});

export const searchQuery = z.strictObject({
  q: z.string().trim().min(1, { message: "expected text to search test ids for" }).max(500),
  repository: z.string().min(1).max(2000).optional(),
  limit: count(200, 50),
});

/** Parse or throw BadRequest naming each parameter. */
export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.output<S> {
  const res = schema.safeParse(query ?? {});
  if (res.success) return res.data;
  const raw = (query ?? {}) as Record<string, unknown>;
  throw new BadRequest(
    res.error.issues.map((i) => {
      if (i.code === "unrecognized_keys") {
        return {
          path: i.keys.join(", "),
          message: `unknown parameter; accepted: ${Object.keys((schema as unknown as z.ZodObject).shape).join(", ")}`,
        };
      }
      const path = i.path.map(String).join(".");
      return { path, message: i.message, value: raw[path] };
    }),
  );
}
