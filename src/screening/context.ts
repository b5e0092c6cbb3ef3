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
import { ConfigError } from "../db/errors";
import { serviceRunner } from "../db/service";
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

/**
 * run / runParsed: each call runs in the context's tenant transaction; a failure (rejected input included)
 * writes an `error` audit event with the operation and error code in a separate transaction, then rethrows.
 */
export const { run, runParsed } = serviceRunner<RequestContext>({
  tenant: (ctx) => ctx.tenantId,
  recordFailure: (c, db, ctx, details) => recordEvent(c, db, ctx, "error", { details }),
});

/** The encryption keyring for this configuration (built once). */
export function keyring(cfg: Config): Keyring {
  return Keyring.forConfig(cfg);
}

export function blindIndexKey(cfg: Config): Buffer {
  if (!cfg.keys.blindIndex) throw new ConfigError(["BLIND_INDEX_KEY must be set to store or look up identifiers (see .env.example)"]);
  return cfg.keys.blindIndex;
}
