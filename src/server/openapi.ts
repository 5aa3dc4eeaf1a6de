import * as z from "zod";
import { JOB_STATUSES } from "../store/jobs.js";
import { TOOL } from "../version.js";
import { runRequestSchema } from "./job-input.js";

/**
 * The OpenAPI 3.1 document of the job API, generated from the same zod schemas that validate
 * requests (OpenAPI 3.1 uses JSON Schema 2020-12, which is what z.toJSONSchema writes).
 */

const progressSchema = z
  .object({
    phase: z
      .string()
      .describe("source, install, isolation, framework, run, seed-replay, serial-confirmation"),
    done: z.int().describe("Attempts finished."),
    total: z.int().describe("Attempt budget."),
    failures: z.int().describe("Attempts that failed so far."),
  })
  .describe("Live progress (flaky-detector's addition to RunPod's fields).");

const jobStatusSchema = z.object({
  id: z.string(),
  status: z.enum(JOB_STATUSES),
  delayTime: z.int().optional().describe("Milliseconds the job waited in the queue."),
  executionTime: z.int().optional().describe("Milliseconds it has run (so far, while IN_PROGRESS)."),
  progress: progressSchema.optional(),
  retries: z.int().optional().describe("Times POST /retry re-queued it."),
  detectionId: z.string().optional().describe("Its detection in the history (/api/v1/detections/{id})."),
  output: z
    .record(z.string(), z.unknown())
    .optional()
    .describe("The Report (schemaVersion 1) when COMPLETED; see the README's report section."),
  error: z.string().optional().describe("Why it FAILED or TIMED_OUT, with a stable E_ code first."),
});

const problemSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    problems: z
      .array(z.object({ path: z.string(), message: z.string(), value: z.unknown().optional() }))
      .optional()
      .describe("Every problem of a 400, each with its field path (input.runs, policy.ttl, …)."),
  }),
});

function schema(s: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(s, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: string) => ({ "application/json": { schema: ref(name) } });
const idParam = {
  name: "id",
  in: "path",
  required: true,
  schema: { type: "string", format: "uuid" },
};
const errors = {
  "401": { description: "Missing or wrong API key.", content: json("Error") },
  "404": { description: "No such job (or its result expired).", content: json("Error") },
};

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: "3.1.0",
    info: {
      title: "flaky-detector job API",
      version: TOOL.version,
      description:
        "Shaped like a RunPod Serverless endpoint: the same paths, statuses and field names, so one client talks to either.",
    },
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "Authorization: Bearer <key> (the bare key, as RunPod clients send it, works too).",
        },
      },
      schemas: {
        RunRequest: schema(runRequestSchema),
        JobStatus: schema(jobStatusSchema),
        Error: schema(problemSchema),
      },
    },
    security: [{ bearer: [] }],
    paths: {
      "/run": {
        post: {
          summary: "Queue a detection; returns at once.",
          requestBody: { required: true, content: json("RunRequest") },
          responses: {
            "200": {
              description: "Accepted: {id, status: IN_QUEUE}.",
              content: json("JobStatus"),
            },
            "400": { description: "Invalid request: every problem by field path.", content: json("Error") },
            "401": errors["401"],
            "413": { description: "Body larger than the server's --body-limit.", content: json("Error") },
            "429": {
              description: "Queue full or rate limit; the Retry-After header says when to retry.",
              content: json("Error"),
            },
          },
        },
      },
      "/runsync": {
        post: {
          summary: "Queue a detection and wait for it (up to `wait` ms); then poll /status if still running.",
          parameters: [
            {
              name: "wait",
              in: "query",
              schema: { type: "integer", minimum: 1000, maximum: 300000, default: 90000 },
            },
          ],
          requestBody: { required: true, content: json("RunRequest") },
          responses: {
            "200": {
              description: "The job, with output when it finished in time.",
              content: json("JobStatus"),
            },
            "400": { description: "Invalid request.", content: json("Error") },
            "401": errors["401"],
            "429": { description: "Queue full.", content: json("Error") },
          },
        },
      },
      "/status/{id}": {
        get: {
          summary: "A job's status, progress and, when COMPLETED, its Report.",
          parameters: [idParam],
          responses: { "200": { description: "The job.", content: json("JobStatus") }, ...errors },
        },
      },
      "/events/{id}": {
        get: {
          summary:
            "Server-sent events: `status` on each change, `progress` per pipeline event, `end` with the final status.",
          parameters: [idParam],
          responses: {
            "200": { description: "An event stream.", content: { "text/event-stream": {} } },
            ...errors,
          },
        },
      },
      "/cancel/{id}": {
        post: {
          summary: "Cancel a queued or running job (its attempts are killed).",
          parameters: [idParam],
          responses: { "200": { description: "{id, status}.", content: json("JobStatus") }, ...errors },
        },
      },
      "/retry/{id}": {
        post: {
          summary: "Re-queue a FAILED or TIMED_OUT job under the same id.",
          parameters: [idParam],
          responses: {
            "200": { description: "{id, status: IN_QUEUE}.", content: json("JobStatus") },
            "409": { description: "The job is not FAILED or TIMED_OUT.", content: json("Error") },
            ...errors,
          },
        },
      },
      "/purge-queue": {
        post: {
          summary: "Remove every queued job (running ones continue).",
          responses: {
            "200": {
              description: "{removed, status: completed}.",
              content: {
                "application/json": {
                  schema: {
                    type: "object",
                    properties: { removed: { type: "integer" }, status: { const: "completed" } },
                  },
                },
              },
            },
            "401": errors["401"],
          },
        },
      },
      "/health": {
        get: {
          summary: "Liveness, job counts and worker slots (no key needed).",
          security: [],
          responses: { "200": { description: "{status, version, store, jobs, workers}." } },
        },
      },
      "/metrics": {
        get: {
          summary: "Prometheus text format: jobs by status, attempts, durations.",
          responses: { "200": { description: "text/plain; version=0.0.4" }, "401": errors["401"] },
        },
      },
    },
  };
}
