/**
 * Request context and the wrapper every screening service call runs in (seed 002, tasks 1.3 and 1.7).
 *
 * A call takes an immutable context (tenant, actor, correlation id); it runs inside `withTenant`, so RLS
 * applies; every audit event it writes carries the actor and correlation id. When a call fails, an
 * `error` audit event with the error's code is written in a SEPARATE transaction (the failed one rolled
 * back), so "all errors generate structured audit events" holds without keeping any of the failed change.
 */
import type pg from "pg";
import { z } from "zod";
import type { Config } from "../config";
import type { Db } from "../db/connect";
import { Keyring } from "../db/crypto";
import { AppError, ConfigError } from "../db/errors";
import type { TxOptions } from "../db/tx";
import { parseInput } from "../db/validate";
import { insertAuditEvent } from "./queries/audit.queries";

const contextSchema = z.object({ tenantId: z.uuid(), actorId: z.uuid().nullable(), correlationId: z.uuid() });
export type RequestContext = Readonly<z.output<typeof contextSchema>>;

export function requestContext(input: z.input<typeof contextSchema>): RequestContext {
  return Object.freeze(parseInput(contextSchema, input, "request context"));
}

export type EventType =
  | "screening_initiated"
  | "screening_completed"
  | "data_accessed"
  | "entity_created"
  | "entity_updated"
  | "entity_deleted"
  | "entity_erased"
  | "profile_created"
  | "relation_created"
  | "cache_stored"
  | "tenant_created"
  | "tenant_deactivated"
  | "error";

/** Append an audit event inside the caller's (tenant) transaction. Sensitive details are encrypted. */
export async function recordEvent(
  c: pg.ClientBase,
  db: Db,
  ctx: RequestContext,
  eventType: EventType,
  ev: { entityId?: string | null; details?: Record<string, unknown>; sensitive?: Record<string, unknown> } = {},
) {
  const [row] = await insertAuditEvent.run(
    {
      tenantId: ctx.tenantId,
      actorId: ctx.actorId,
      eventType,
      correlationId: ctx.correlationId,
      entityId: ev.entityId ?? null,
      details: JSON.stringify(ev.details ?? {}),
      sensitiveDetails: ev.sensitive ? keyring(db.config).encrypt(JSON.stringify(ev.sensitive), `screening.audit_events:${ctx.correlationId}`) : null,
    },
    c,
  );
  return row;
}

/** Run one service operation for the context's tenant; on failure, audit the error separately and rethrow. */
export async function run<T>(
  db: Db,
  ctx: RequestContext,
  operation: string,
  fn: (c: pg.PoolClient) => Promise<T>,
  opts?: TxOptions,
): Promise<T> {
  try {
    return await db.tenant(ctx.tenantId, fn, opts);
  } catch (e) {
    await recordError(db, ctx, operation, e);
    throw e;
  }
}

/** Validate input inside the audited scope, so rejected input is audited too. */
export async function runParsed<S extends z.ZodType, T>(
  db: Db,
  ctx: RequestContext,
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
    await recordError(db, ctx, operation, e);
    throw e;
  }
  return run(db, ctx, operation, (c) => fn(parsed, c), opts);
}

async function recordError(db: Db, ctx: RequestContext, operation: string, e: unknown) {
  const details =
    e instanceof AppError
      ? { operation, code: e.code, sqlstate: e.sqlstate ?? null, constraint: e.constraint ?? null, fields: "fields" in e ? e.fields : null }
      : { operation, code: "internal" };
  try {
    await db.tenant(ctx.tenantId, (c) => recordEvent(c, db, ctx, "error", { details }));
  } catch {
    // Recording the error must never hide it; the original error is rethrown by the caller.
  }
}

/** The encryption keyring for this configuration (built once). */
export function keyring(cfg: Config): Keyring {
  return Keyring.forConfig(cfg);
}

export function blindIndexKey(cfg: Config): Buffer {
  if (!cfg.keys.blindIndex) throw new ConfigError(["BLIND_INDEX_KEY must be set to store or look up identifiers (see .env.example)"]);
  return cfg.keys.blindIndex;
}
