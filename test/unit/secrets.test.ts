import { Writable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MaskingWriter } from "../../src/util/masking-writer.js";
import { isSecretName, Masker, secretValues, withoutSecrets } from "../../src/util/secrets.js";

/** The secret policy (docs/security.md): which variables are secrets, and masking that holds. */

describe("which variables are secrets", () => {
  it("by name: *_TOKEN, *_KEY, *_SECRET, *_PASSWORD, webhooks, FLAKY_DETECTOR_NOTIFY__*", () => {
    for (const name of [
      "GITHUB_TOKEN",
      "NPM_TOKEN",
      "RUNPOD_API_KEY",
      "AWS_SECRET_ACCESS_KEY",
      "DB_PASSWORD",
      "CLIENT_SECRET",
      "SLACK_WEBHOOK_URL",
      "FLAKY_DETECTOR_NOTIFY__DISCORD_WEBHOOK",
      "FLAKY_DETECTOR_NOTIFY__ON",
      "token",
    ]) {
      expect(isSecretName(name), name).toBe(true);
    }
    for (const name of ["PATH", "HOME", "CI", "TEST_SEED", "MONKEY_BUSINESS", "KEYBOARD", "NODE_OPTIONS"]) {
      expect(isSecretName(name), name).toBe(false);
    }
  });

  it("by the user's names and globs, and by value: webhook URLs and URLs with a password", () => {
    expect(isSecretName("ACME_CRED", ["ACME_*"])).toBe(true);
    expect(isSecretName("OTHER", ["ACME_*"])).toBe(false);
    const env = {
      HOOK: "https://hooks.slack.com/services/T0/B0/abcdefghijkl",
      DATABASE_URL: "postgres://app:pa%24%24word-123@db.internal/app",
      PLAIN: "just a value",
    };
    expect(Object.keys(withoutSecrets(env))).toEqual(["PLAIN"]);
    const values = secretValues(env);
    expect(values).toContain("https://hooks.slack.com/services/T0/B0/abcdefghijkl");
    // The password alone, in both the encoded and decoded forms it may be printed in.
    expect(values).toContain("pa%24%24word-123");
    expect(values).toContain("pa$$word-123");
  });

  it("masks a multi-line secret (a PEM key) line by line, as logs print it", () => {
    const pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\nAQEFAASCBKcwggSjAgEAAoIB\n-----END KEY-----";
    const m = Masker.forEnv({ DEPLOY_PRIVATE_KEY: pem });
    const logged = `loading key\n${pem.split("\n")[1]}\nok`;
    expect(m.text(logged)).toBe("loading key\n***\nok");
    expect(m.text(pem)).toBe("***");
  });

  it("leaves values too short to be credentials alone", () => {
    expect(secretValues({ API_KEY: "abc" })).toEqual([]);
    expect(new Masker(["abc"]).text("abc abc")).toBe("abc abc");
  });
});

describe("masking", () => {
  const secret = "ghp_0123456789abcdefCANARY";

  it("replaces a secret everywhere in a JSON-like value, keys included", () => {
    const m = new Masker([secret]);
    const out = m.deep({ a: [`x${secret}y`, 1, null, { [secret]: secret }], b: true });
    expect(JSON.stringify(out)).not.toContain(secret);
    expect(out).toEqual({ a: ["x***y", 1, null, { "***": "***" }], b: true });
  });

  it("masks a secret cut by truncation at either end", () => {
    const m = new Masker([secret]);
    expect(m.edges(`${secret.slice(7)} and more`)).toBe("*** and more");
    expect(m.edges(`text then ${secret.slice(0, 12)}`)).toBe("text then ***");
  });

  it("a log written in arbitrary chunks never contains the secret (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.string({ maxLength: 30 }).map((s) => s.replaceAll("*", "")),
            fc.constant(secret),
            fc.constant("\n"),
          ),
          {
            maxLength: 40,
          },
        ),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 0, max: 70_000 }),
        (parts, cuts, padding) => {
          const text = "p".repeat(padding) + parts.join("");
          const bytes = Buffer.from(text, "utf8");
          let written = "";
          const sink = new Writable({
            write(chunk, _e, cb) {
              written += chunk.toString();
              cb();
            },
          });
          const w = new MaskingWriter(sink, new Masker([secret]));
          let at = 0;
          let i = 0;
          while (at < bytes.length) {
            const n = (cuts[i++ % cuts.length] as number) * 37;
            w.write(bytes.subarray(at, at + n));
            at += n;
          }
          w.end(() => {});
          expect(written).not.toContain(secret);
          expect(written.replaceAll("***", secret)).toBe(text);
        },
      ),
      { numRuns: 300 },
    );
  });
});
