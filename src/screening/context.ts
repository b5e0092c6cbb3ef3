/**
 * The screening domain's context and how its operations run (seed 002, tasks 1.3 and 1.7).
 *
 * A call takes an immutable context (tenant, actor, correlation id) and runs in that tenant's transaction
 * as `app` (withTenant), so RLS applies; a tenant that is unknown or deactivated is refused (ForbiddenError)
 * in the message that opens the transaction, and nothing is written, not even a failure record. Every audit event it writes carries the actor and correlation id.
 * A failed call leaves an `error` event (written in a separate transaction; the failed one rolled back);
 * a read of personal data leaves a `data_accessed` event in the same transaction as the read.
 *
 * Platform operations (tenants, sweeps, key rotation) take a PlatformContext and run on the owner
 * connection: there is no tenant yet, or they work across tenants.
 */
import type pg from "pg";
import { z } from "zod";
import type { Config } from "../config";
import type { Db } from "../db/connect";
import { Keyring } from "../db/crypto";
import { ConfigError } from "../db/errors";
import { defineDomain, perBatch, type PlatformContext, platformDomain } from "../db/operation";
import { one } from "../db/rows";
import { parseInput } from "../db/validate";
import { sql } from "./sql";

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
  | "cache_purged"
  | "tenant_created"
  | "tenant_updated"
  | "tenant_deactivated"
  | "error";

/** Append an audit event inside the caller's (tenant) transaction. Sensitive details are encrypted. */
export function recordEvent(
  c: pg.ClientBase,
  db: Db,
  ctx: RequestContext,
  eventType: EventType,
  ev: { entityId?: string | null; details?: Record<string, unknown>; sensitive?: Record<string, unknown> } = {},
) {
  return one(
    sql.audit.insertAuditEvent,
    {
      tenantId: ctx.tenantId,
      actorId: ctx.actorId,
      eventType,
      correlationId: ctx.correlationId,
      entityId: ev.entityId,
      details: JSON.stringify(ev.details ?? {}),
      sensitiveDetails: ev.sensitive ? keyring(db.config).encrypt(JSON.stringify(ev.sensitive), `screening.audit_events:${ctx.correlationId}`) : null,
    },
    c,
  );
}

/** Tenant operations: the tenant's transaction; `error` events on failure, `data_accessed` events for reads of personal data. */
export const operation = defineDomain<RequestContext>({
  name: "screening",
  // The tenant must exist and be active: checked in the message that opens the transaction (no extra round trip).
  transaction: (db, ctx, fn, opts) => db.tenant(ctx.tenantId, fn, { ...opts, check: "screening.require_live_tenant()" }),
  recordFailure: (c, db, ctx, details) => recordEvent(c, db, ctx, "error", { details }),
  recordAccess: (c, db, ctx, operation, rec) => recordEvent(c, db, ctx, "data_accessed", { entityId: rec.subject, details: { operation, ...rec.details } }),
});

/** Platform operations: the owner connection, no tenant (tenants, erasure). */
export const platformOperation = platformDomain("screening");

/** Platform batch jobs (sweeps, key rotation): no surrounding transaction, one per batch. */
export const batchOperation = defineDomain<PlatformContext>({ name: "screening", transaction: perBatch });

/** The encryption keyring for this configuration (built once). */
export function keyring(cfg: Config): Keyring {
  return Keyring.forConfig(cfg);
}

export function blindIndexKey(cfg: Config): Buffer {
  if (!cfg.keys.blindIndex) throw new ConfigError(["BLIND_INDEX_KEY must be set to store or look up identifiers (see .env.example)"]);
  return cfg.keys.blindIndex;
}
