/**
 * The audited-call pattern the domain services share: a call validates its input and runs inside one
 * tenant transaction (withTenant: role `app`, RLS applies); when anything fails — rejected input included —
 * the domain's failure record is written in a SEPARATE transaction (the failed one rolled back) and the
 * original error is rethrown. Each domain supplies only how its context maps to a tenant and how it
 * records a failure (screening: an `error` audit event; workspace: a `status = failure` audit row).
 */
import type pg from "pg";
import { z } from "zod";
import type { Db } from "./connect";
import { AppError } from "./errors";
import type { TenantContext, TxOptions } from "./tx";
import { parseInput } from "./validate";

/** What a failure record says: the operation and the error's code, never its values. */
export type FailureDetails =
  | { operation: string; code: string; sqlstate: string | null; constraint: string | null; fields: readonly string[] | null }
  | { operation: string; code: "internal" };

export function failureDetails(operation: string, e: unknown): FailureDetails {
  return e instanceof AppError
    ? { operation, code: e.code, sqlstate: e.sqlstate ?? null, constraint: e.constraint ?? null, fields: "fields" in e ? (e.fields as readonly string[]) : null }
    : { operation, code: "internal" };
}

export interface ServiceScope<Ctx> {
  /** The tenant (and user) a call for this context runs as. */
  tenant(ctx: Ctx): TenantContext | string;
  /** Write the failure record on `c`: a tenant transaction of its own (the failed one rolled back); its own failure is ignored. */
  recordFailure(c: pg.PoolClient, db: Db, ctx: Ctx, details: FailureDetails): Promise<unknown>;
}

export function serviceRunner<Ctx>(scope: ServiceScope<Ctx>) {
  async function fail(db: Db, ctx: Ctx, operation: string, e: unknown) {
    try {
      await db.tenant(scope.tenant(ctx), (c) => scope.recordFailure(c, db, ctx, failureDetails(operation, e)));
    } catch {
      // Recording the failure must never hide it; the caller rethrows the original error.
    }
  }

  /** Run one operation in the context's tenant transaction; record a failure separately and rethrow. */
  async function run<T>(db: Db, ctx: Ctx, operation: string, fn: (c: pg.PoolClient) => Promise<T>, opts?: TxOptions): Promise<T> {
    try {
      return await db.tenant(scope.tenant(ctx), fn, opts);
    } catch (e) {
      await fail(db, ctx, operation, e);
      throw e;
    }
  }

  /** Validate input inside the audited scope (rejected input is recorded too), then run. */
  async function runParsed<S extends z.ZodType, T>(
    db: Db,
    ctx: Ctx,
    operation: string,
    schema: S,
    input: unknown,
    fn: (p: z.output<S>, c: pg.PoolClient) => Promise<T>,
    opts?: TxOptions,
  ): Promise<T> {
    let parsed: z.output<S>;
    try {
      parsed = parseInput(schema, input, operation);
    } catch (e) {
      await fail(db, ctx, operation, e);
      throw e;
    }
    return run(db, ctx, operation, (c) => fn(parsed, c), opts);
  }

  /**
   * runParsed for an operation that takes one value: it is validated as the named field, so a bad one is
   * reported as e.g. `userId: Invalid UUID` (fields ["userId"]) rather than under the operation's name.
   */
  function runField<S extends z.ZodType, T>(
    db: Db,
    ctx: Ctx,
    operation: string,
    field: string,
    schema: S,
    value: unknown,
    fn: (v: z.output<S>, c: pg.PoolClient) => Promise<T>,
    opts?: TxOptions,
  ): Promise<T> {
    return runParsed(db, ctx, operation, z.object({ [field]: schema }), { [field]: value }, (p, c) => fn((p as Record<string, z.output<S>>)[field] as z.output<S>, c), opts);
  }

  return { run, runParsed, runField };
}
