/**
 * Running generated queries: `many`, `maybeOne` and `one` instead of destructuring and non-null casts, each
 * in an OpenTelemetry span named by the query (`<domain>.<module>.<query>`), under the operation's span.
 *
 * A domain names its generated modules once (`src/<domain>/sql.ts`: `nameQueries("<domain>", { <module>, ... })`);
 * a query that was not named still runs, under the span name `query`. Span attributes carry the query's
 * name only: never its parameters (personal data) and never its rows.
 */
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type pg from "pg";
import { NotFoundError } from "./errors";
import { tracer } from "./operation";

/** What a pgtyped PreparedQuery offers (typed by its generated interfaces). */
export interface Query<P, R> {
  run(params: P, client: pg.ClientBase): Promise<R[]>;
}

const NAMES = new WeakMap<object, string>();

/** Name every PreparedQuery of the given generated modules `<domain>.<module>.<query>` for tracing; returns the modules as given. */
export function nameQueries<M extends Record<string, Record<string, unknown>>>(domain: string, modules: M): M {
  for (const [module, exports] of Object.entries(modules)) {
    for (const [name, value] of Object.entries(exports)) {
      if (value && typeof value === "object" && typeof (value as { run?: unknown }).run === "function") NAMES.set(value, `${domain}.${module}.${name}`);
    }
  }
  return modules;
}

/** All rows of the query. */
export function many<P, R>(query: Query<P, R>, params: P, c: pg.ClientBase): Promise<R[]> {
  const name = NAMES.get(query) ?? "query";
  return tracer.startActiveSpan(name, { kind: SpanKind.CLIENT, attributes: { "db.system.name": "postgresql", "db.query.name": name } }, async (span) => {
    try {
      const rows = await query.run(params, c);
      span.setAttribute("db.response.returned_rows", rows.length);
      return rows;
    } catch (e) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (e as { code?: string }).code ?? "error" });
      throw e;
    } finally {
      span.end();
    }
  });
}

/** The first row, or null when there is none. */
export async function maybeOne<P, R>(query: Query<P, R>, params: P, c: pg.ClientBase): Promise<R | null> {
  return (await many(query, params, c))[0] ?? null;
}

/**
 * The first row. With `notFound`, no row is a NotFoundError with that message (for lookups by id);
 * without it, no row is a bug (an INSERT ... RETURNING or an aggregate always returns one).
 */
export async function one<P, R>(query: Query<P, R>, params: P, c: pg.ClientBase, notFound?: string): Promise<R> {
  const row = (await many(query, params, c))[0];
  if (row !== undefined) return row;
  if (notFound) throw new NotFoundError(notFound);
  throw new Error(`${NAMES.get(query) ?? "query"} returned no row`);
}
