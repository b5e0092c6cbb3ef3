/** Input validation at the service boundary: zod schemas in, typed ValidationError out. */
import { z } from "zod";
import { ValidationError } from "./errors";

/**
 * Parse `input` with `schema`. On failure throws a ValidationError whose message names every bad field
 * (by its input path) and whose `fields` lists them; the rejected values are never echoed.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what = "input"): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) {
    // Type-correct input may still hold strings PostgreSQL cannot store faithfully.
    const bad = illFormedStrings(input);
    if (bad.length) {
      throw new ValidationError(
        `invalid ${what}: ${bad.map((p) => `${p || what}: must not contain NUL characters or unpaired UTF-16 surrogates (invalid UTF-8)`).join("; ")}`,
        bad.map((p) => p || what),
      );
    }
    return r.data;
  }
  const fields = [...new Set(r.error.issues.map((i) => i.path.map(String).join(".") || what))];
  const detail = r.error.issues.map((i) => `${i.path.map(String).join(".") || what}: ${i.message}`).join("; ");
  throw new ValidationError(`invalid ${what}: ${detail}`, fields);
}

/** How deep a JSON value given to a service may nest; deeper is refused (and is beyond any real document). */
export const MAX_JSON_DEPTH = 32;

/**
 * Paths of strings (values or object keys) that PostgreSQL cannot store faithfully: NUL is refused by text
 * and jsonb, and an unpaired surrogate would be silently replaced with U+FFFD when encoded as UTF-8. Checked
 * after the schema accepted the input, so every service rejects them the same way, naming the field. Every
 * free-form value is a `jsonRecord`/`jsonArray`, which the schema already refused beyond MAX_JSON_DEPTH, so
 * the walk below that depth sees every string; the bound only guards against a schema that let a deeper value through.
 */
function illFormedStrings(v: unknown, at = "", depth = 0): string[] {
  const bad = (s: string) => s.includes("\u0000") || !s.isWellFormed();
  if (typeof v === "string") return bad(v) ? [at] : [];
  if (v === null || typeof v !== "object" || v instanceof Date || Buffer.isBuffer(v)) return [];
  if (depth > MAX_JSON_DEPTH + 8) return [at];
  return Object.entries(v).flatMap(([k, x]) => {
    const path = at ? `${at}.${k}` : k;
    return [...(bad(k) ? [path] : []), ...illFormedStrings(x, path, depth + 1)];
  });
}

/**
 * Where `v` is not a JSON document that survives JSON.stringify and jsonb unchanged: a BigInt (stringify
 * throws), NaN or an infinity (silently becomes null), a Map, Set, Buffer or class instance (silently becomes
 * {} or something else), a cycle, or nesting deeper than MAX_JSON_DEPTH. Dates are allowed (stored as their
 * ISO string, as JSON.stringify does). Written here rather than using zod's z.json(): that has no depth or
 * cycle guard (a cyclic value overflows the stack) and rejects the Dates and undefined members callers pass.
 */
function jsonProblem(v: unknown, path: PropertyKey[] = [], seen = new Set<object>()): { path: PropertyKey[]; message: string } | undefined {
  if (v === null || v === undefined || typeof v === "string" || typeof v === "boolean" || v instanceof Date) return undefined;
  if (typeof v === "number") return Number.isFinite(v) ? undefined : { path, message: "must be a finite number (JSON has no NaN or Infinity)" };
  if (typeof v !== "object") return { path, message: `must be JSON: a ${typeof v} cannot be stored` };
  const proto = Object.getPrototypeOf(v);
  if (!Array.isArray(v) && proto !== Object.prototype && proto !== null)
    return { path, message: "must be JSON: only plain objects, arrays, strings, numbers, booleans and null" };
  if (path.length >= MAX_JSON_DEPTH) return { path, message: `must not nest deeper than ${MAX_JSON_DEPTH} levels` };
  if (seen.has(v)) return { path, message: "must be JSON: the value contains a cycle" };
  seen.add(v);
  for (const [k, x] of Object.entries(v)) {
    const p = jsonProblem(x, [...path, Array.isArray(v) ? Number(k) : k], seen);
    if (p) return p;
  }
  seen.delete(v);
  return undefined;
}

const asJson = (v: unknown, ctx: z.RefinementCtx) => {
  const p = jsonProblem(v);
  if (p) ctx.addIssue({ code: "custom", message: p.message, path: p.path });
};

/** A JSON object (jsonb column): string keys, JSON values at any depth (see jsonProblem). */
export const jsonRecord = z.record(z.string(), z.unknown()).superRefine(asJson);

/** A JSON array (jsonb column) of JSON values. */
export const jsonArray = z.array(z.unknown()).superRefine(asJson);

const FIRST_DAY = "0001-01-01";
const LAST_DAY = "9999-12-31";

/**
 * An instant between 0001-01-01 and 9999-12-31 UTC: what PostgreSQL stores (it refuses year 0 and earlier
 * than 4713 BC) and what survives JSON (JSON.stringify writes years past 9999 as +275760-..., which
 * PostgreSQL refuses). Every Date a service takes is one of these, so an out-of-range one is a
 * ValidationError naming its field, not a 22008/22009 from the database.
 */
export const timestamp = z.date().refine((d) => d.getUTCFullYear() >= 1 && d.getUTCFullYear() <= 9999, `must be between ${FIRST_DAY} and ${LAST_DAY} (UTC)`);

/** A calendar date as an ISO string (yyyy-mm-dd), year 0001 to 9999 (PostgreSQL has no year 0). */
export const isoDate = z.iso.date().refine((s) => s >= FIRST_DAY, `must be between ${FIRST_DAY} and ${LAST_DAY}`);

/** A [from, to) time range, as every audit and cost query takes it. */
export const timeRange = z.object({ from: timestamp, to: timestamp }).refine((r) => r.from < r.to, { message: "from must be before to", path: ["to"] });

/** A [from, to) time range with a row limit (1..10,000, default 1,000). */
export const pagedTimeRange = z
  .object({ from: timestamp, to: timestamp, limit: z.number().int().min(1).max(10_000).default(1000) })
  .refine((r) => r.from < r.to, { message: "from must be before to", path: ["to"] });
