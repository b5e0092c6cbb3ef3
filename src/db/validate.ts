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

/**
 * Paths of strings (values or object keys, at any depth) that PostgreSQL cannot store faithfully: NUL is
 * refused by text and jsonb, and an unpaired surrogate would be silently replaced with U+FFFD when encoded
 * as UTF-8. Checked after the schema accepted the input, so every service rejects them the same way, naming the field.
 */
function illFormedStrings(v: unknown, at = "", depth = 0): string[] {
  const bad = (s: string) => s.includes("\u0000") || !s.isWellFormed();
  if (typeof v === "string") return bad(v) ? [at] : [];
  if (depth > 20 || v === null || typeof v !== "object" || v instanceof Date || Buffer.isBuffer(v)) return [];
  return Object.entries(v).flatMap(([k, x]) => {
    const path = at ? `${at}.${k}` : k;
    return [...(bad(k) ? [path] : []), ...illFormedStrings(x, path, depth + 1)];
  });
}

/** A [from, to) time range, as every audit and cost query takes it. */
export const timeRange = z.object({ from: z.date(), to: z.date() }).refine((r) => r.from < r.to, { message: "from must be before to", path: ["to"] });

/** A [from, to) time range with a row limit (1..10,000, default 1,000). */
export const pagedTimeRange = z
  .object({ from: z.date(), to: z.date(), limit: z.number().int().min(1).max(10_000).default(1000) })
  .refine((r) => r.from < r.to, { message: "from must be before to", path: ["to"] });
