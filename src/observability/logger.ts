/**
 * The process's one root logger: JSON lines on stdout, a child per component (`logger.child({ component })`).
 * Secrets are redacted here, on the serialized line, so no call site can leak a token by accident: every
 * configured token and key (and the forms it takes on the wire) is replaced wherever it appears, in any
 * field, message or stack trace.
 */
import pino, { type Logger as PinoLogger, type LevelWithSilent } from "pino";

export type Logger = PinoLogger;
export const REDACTED = "[REDACTED]";

/** Holds the current secret values; the config loader replaces them on every (re)load. */
export interface SecretRedactor {
  setSecrets(values: Iterable<string>): void;
  /** A secret made at run time (a GitHub App's installation token), kept across reloads while it can be in use. */
  addSecret(value: string): void;
  redact(text: string): string;
}

/** Run-time secrets kept: installation tokens live an hour, so a few per instance are ever in use. */
const MAX_RUNTIME_SECRETS = 256;

/** The spellings a secret can take in our output: raw, JSON-escaped, and as HTTP Basic credentials. */
function wireForms(secret: string): string[] {
  const forms = new Set([secret, JSON.stringify(secret).slice(1, -1)]);
  forms.add(Buffer.from(`:${secret}`).toString("base64"));
  forms.add(Buffer.from(secret).toString("base64"));
  return [...forms].filter((form) => form.length > 0);
}

/** A piece of a secret this long or longer, left at a cut, is still redacted. */
export const MIN_SECRET_PIECE = 8;
/** What marks a cut in our output (cutText): what was left of it may end in a secret's beginning. */
export const CUT = "…";

/**
 * Replaces the part of `text` next to each cut that is a piece of `form` of MIN_SECRET_PIECE or more: a prefix
 * of it right before the ellipsis, a suffix of it right after one.
 */
function redactPiecesAtCuts(text: string, form: string): string {
  if (form.length <= MIN_SECRET_PIECE) return text;
  let out = text;
  for (let at = out.indexOf(CUT); at >= 0; at = out.indexOf(CUT, at + 1)) {
    for (let length = Math.min(form.length - 1, at); length >= MIN_SECRET_PIECE; length--) {
      if (out.slice(at - length, at) === form.slice(0, length)) {
        out = `${out.slice(0, at - length)}${REDACTED}${out.slice(at)}`;
        at = at - length + REDACTED.length;
        break;
      }
    }
    const after = at + CUT.length;
    for (let length = Math.min(form.length - 1, out.length - after); length >= MIN_SECRET_PIECE; length--) {
      if (out.slice(after, after + length) === form.slice(form.length - length)) {
        out = `${out.slice(0, after)}${REDACTED}${out.slice(after + length)}`;
        break;
      }
    }
  }
  return out;
}

/** At most `limit` characters of `text`, a longer one cut and ending in CUT (which the redactor looks behind). */
export function cutText(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}${CUT}`;
}

export function createSecretRedactor(initial: Iterable<string> = []): SecretRedactor {
  let forms: string[] = [];
  let configured: string[] = [];
  const runtime = new Set<string>();
  const rebuild = () => {
    const all = new Set<string>();
    for (const value of [...configured, ...runtime]) if (value) for (const form of wireForms(value)) all.add(form);
    // Longest first, so a secret that contains another is replaced whole.
    forms = [...all].sort((a, b) => b.length - a.length);
  };
  const redactor: SecretRedactor = {
    setSecrets(values) {
      configured = [...values];
      rebuild();
    },
    addSecret(value) {
      if (!value || runtime.has(value)) return;
      runtime.add(value);
      if (runtime.size > MAX_RUNTIME_SECRETS) runtime.delete(runtime.values().next().value as string);
      rebuild();
    },
    redact(text) {
      let out = text;
      for (const form of forms) if (out.includes(form)) out = out.split(form).join(REDACTED);
      // A message cut before it was redacted (an API's error echoing a token, cut at 300) may keep a piece.
      if (out.includes(CUT)) for (const form of forms) out = redactPiecesAtCuts(out, form);
      return out;
    },
  };
  redactor.setSecrets(initial);
  return redactor;
}

export interface LoggerOptions {
  level?: LevelWithSilent;
  redactor?: SecretRedactor;
  /** Where lines go; stdout (fd 1) unless a test collects them. */
  write?: (line: string) => void;
}

/**
 * Lines collected and handed to `sink` once per turn of the event loop: the lines of a turn (a group commit's
 * webhooks, a batch of deliveries) in one write instead of one each. On stdout a write cost more than forming
 * its line (about 20 µs each, the largest part of logging under load, measured). A line waits at most until
 * its turn ends; `flush` writes what is left at once, and after it is `closed` every line goes at once.
 */
export function bufferByTurn(sink: (text: string) => void) {
  let lines: string[] = [];
  let closed = false;
  const flush = () => {
    if (lines.length === 0) return;
    const text = lines.join("");
    lines = [];
    sink(text);
  };
  return {
    write(line: string) {
      lines.push(line);
      if (closed) flush();
      else if (lines.length === 1) setImmediate(flush);
    },
    /** Exiting: no turn ends any more. */
    close() {
      closed = true;
      flush();
    },
  };
}

/** Stdout by turn, shared by every logger of the process (so lines keep the order they were logged in). */
let stdout: ReturnType<typeof bufferByTurn> | undefined;
function stdoutByTurn(): ReturnType<typeof bufferByTurn> {
  if (stdout === undefined) {
    const fd1 = pino.destination({ dest: 1, sync: true });
    const buffered = bufferByTurn((text) => fd1.write(text));
    process.on("exit", () => buffered.close());
    stdout = buffered;
  }
  return stdout;
}

/** Creates the root logger. Children inherit the redactor because redaction happens at the stream. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const redactor = options.redactor ?? createSecretRedactor();
  const destination = { write: options.write ?? stdoutByTurn().write };
  return pino(
    {
      level: options.level ?? "info",
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: { streamWrite: (line) => redactor.redact(line) },
    },
    destination,
  );
}

export function isLogLevel(value: string): value is LevelWithSilent {
  return ["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(value);
}
