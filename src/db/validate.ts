/** Input validation at the service boundary: zod schemas in, typed ValidationError out. */
import type { z } from "zod";
import { ValidationError } from "./errors";

/**
 * Parse `input` with `schema`. On failure throws a ValidationError whose message names every bad field
 * (by its input path) and whose `fields` lists them; the rejected values are never echoed.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what = "input"): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const fields = [...new Set(r.error.issues.map((i) => i.path.map(String).join(".") || what))];
  const detail = r.error.issues.map((i) => `${i.path.map(String).join(".") || what}: ${i.message}`).join("; ");
  throw new ValidationError(`invalid ${what}: ${detail}`, fields);
}
