import picomatch from "picomatch";

/**
 * The one secret policy (docs/security.md). A variable is a secret when its name says so
 * (`*_TOKEN`, `*_KEY`, `*_SECRET`, `*_PASSWORD`, …, every `FLAKY_DETECTOR_NOTIFY__*`), when the
 * user names it (config `secrets`), or when its value is a webhook URL or a URL with a password.
 * Servers and workers remove secrets from the tested environment; wherever a value may still
 * reach a test (a local `run` passes the developer's variables on), it is masked in everything
 * we store or print, as CI systems mask secrets in logs.
 */

const SECRET_NAME =
  /(^|_)(TOKEN|KEY|SECRET|SECRETS|PASSWORD|PASSWD|PASS|PASSPHRASE|CREDENTIAL|CREDENTIALS|PRIVATE_KEY|API_KEY|AUTH)$/i;
const WEBHOOK_VALUE =
  /^https?:\/\/([^/]*\.)?(hooks\.slack\.com|discord(app)?\.com\/api\/webhooks|outlook\.office\.com\/webhook|[^/]*webhook\.office\.com)/i;

/** What replaces a secret's value. */
export const MASK = "***";
/**
 * Values shorter than this are not masked: a two-letter "secret" would blank out every occurrence
 * of those letters in the output, and real credentials are far longer.
 */
export const MIN_SECRET_LENGTH = 6;

/** Whether a variable's name marks it as a secret (user patterns are picomatch globs on names). */
export function isSecretName(name: string, extra: readonly string[] = []): boolean {
  if (name.startsWith("FLAKY_DETECTOR_NOTIFY__")) return true;
  if (SECRET_NAME.test(name) || /WEBHOOK/i.test(name)) return true;
  return extra.length > 0 && picomatch.isMatch(name, extra as string[], { nocase: true });
}

/** Whether a variable is a secret by its name or its value. */
export function isSecretVariable(
  name: string,
  value: string | undefined,
  extra: readonly string[] = [],
): boolean {
  if (isSecretName(name, extra)) return true;
  return value !== undefined && (WEBHOOK_VALUE.test(value) || urlPassword(value) !== undefined);
}

/** An environment without its secrets (what tests see on a server or worker). */
export function withoutSecrets(env: NodeJS.ProcessEnv, extra: readonly string[] = []): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (!isSecretVariable(name, value, extra)) out[name] = value;
  }
  return out;
}

function urlPassword(value: string): string | undefined {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/@\s:]*:([^/@\s]+)@/.exec(value);
  return m?.[1];
}

/** The strings to mask for an environment: secret values, and the forms they travel in. */
export function secretValues(env: NodeJS.ProcessEnv, extra: readonly string[] = []): string[] {
  const values = new Set<string>();
  const add = (v: string | undefined) => {
    if (v === undefined || v.length < MIN_SECRET_LENGTH) return;
    values.add(v);
    // A multi-line value (a PEM key) is printed and logged line by line: mask each line too.
    if (v.includes("\n"))
      for (const line of v.split(/\r?\n/))
        if (line.trim().length >= MIN_SECRET_LENGTH) values.add(line.trim());
    const encoded = encodeURIComponent(v);
    if (encoded !== v) values.add(encoded);
    const json = JSON.stringify(v).slice(1, -1);
    if (json !== v) values.add(json);
  };
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    const password = urlPassword(value);
    if (password !== undefined) {
      add(password);
      add(safeDecode(password));
    }
    if (isSecretVariable(name, value, extra)) {
      add(value);
      add(value.trim());
    }
  }
  return [...values];
}

function safeDecode(v: string): string | undefined {
  try {
    return decodeURIComponent(v);
  } catch {
    return undefined;
  }
}

/** Replaces known secret values in text and in any JSON-like value. */
export class Masker {
  /** Longest first, so a secret that contains another is replaced whole. */
  private readonly values: string[];
  private readonly pattern: RegExp | undefined;

  constructor(values: Iterable<string>) {
    this.values = [...new Set(values)].filter((v) => v.length >= MIN_SECRET_LENGTH);
    this.values.sort((a, b) => b.length - a.length);
    this.pattern =
      this.values.length === 0
        ? undefined
        : new RegExp(this.values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g");
  }

  static none(): Masker {
    return new Masker([]);
  }

  /** A masker for this environment's secrets (and those the user names). */
  static forEnv(env: NodeJS.ProcessEnv, extra: readonly string[] = []): Masker {
    return new Masker(secretValues(env, extra));
  }

  get active(): boolean {
    return this.pattern !== undefined;
  }

  /** The longest secret: how much of a stream must be held back to mask across chunk boundaries. */
  get longest(): number {
    return this.values[0]?.length ?? 0;
  }

  text(s: string): string {
    if (!this.pattern || s.length < MIN_SECRET_LENGTH) return s;
    return s.replace(this.pattern, MASK);
  }

  /**
   * Where text may be cut so that the part before can be masked on its own: at least `keep`
   * characters stay behind (a secret may start there), and no secret is cut in two.
   */
  safeCut(text: string, keep: number): number {
    let cut = Math.max(0, text.length - keep);
    if (!this.pattern) return cut;
    this.pattern.lastIndex = 0;
    for (let m = this.pattern.exec(text); m; m = this.pattern.exec(text)) {
      const end = m.index + m[0].length;
      if (m.index < cut && end > cut) cut = end;
      if (m.index >= cut) break;
    }
    return cut;
  }

  /**
   * Also masks a secret cut in two by truncation: text that starts with the end of a secret, or
   * ends with its beginning (at least MIN_SECRET_LENGTH characters of it).
   */
  edges(s: string): string {
    let out = this.text(s);
    if (!this.pattern) return out;
    for (const v of this.values) {
      for (let k = v.length - 1; k >= MIN_SECRET_LENGTH; k--) {
        if (out.startsWith(v.slice(v.length - k))) {
          out = MASK + out.slice(k);
          break;
        }
      }
      for (let k = v.length - 1; k >= MIN_SECRET_LENGTH; k--) {
        if (out.endsWith(v.slice(0, k))) {
          out = out.slice(0, out.length - k) + MASK;
          break;
        }
      }
    }
    return out;
  }

  /** A copy of a JSON-like value with every string (keys included) masked. */
  deep<T>(value: T): T {
    if (!this.pattern) return value;
    return this.walk(value, 0) as T;
  }

  private walk(value: unknown, depth: number): unknown {
    if (typeof value === "string") return this.text(value);
    if (depth > 200 || value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) return value.map((v) => this.walk(v, depth + 1));
    if (value instanceof Date) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[this.text(k)] = this.walk(v, depth + 1);
    return out;
  }
}
