/**
 * The provider cache. paid_external data is shared across tenants (the seed's reuse of paid data);
 * customer_provided data is visible and writable only by the tenant that supplied it — enforced by RLS,
 * not by this code. Freshness (FRESH / STALE / EXPIRED) is computed from the timestamps at read time;
 * the sweep only keeps the stored status column current for reporting and the freshness index.
 */
import type pg from "pg";
import type { Db } from "../db/connect";
import { z } from "zod";
import { many, maybeOne, one } from "../db/rows";
import { setLocalTenant } from "../db/tx";
import { jsonRecord, timeRange, timestamp } from "../db/validate";
import { batchOperation, keyring, operation, platformOperation, recordEvent } from "./context";
import { sql } from "./sql";

const checkType = z.string().regex(/^[a-z][a-z0-9_]{0,99}$/, "must be snake_case");

const storeSchema = z
  .object({
    entityId: z.uuid(),
    providerId: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,99}$/, "must be a lower-case provider id"),
    checkType,
    dataOrigin: z.enum(["paid_external", "customer_provided"]),
    acquiredAt: timestamp,
    freshUntil: timestamp,
    staleUntil: timestamp,
    rawResponse: z.string().max(10_000_000),
    normalizedData: jsonRecord,
    cost: z.number().min(0).max(99_999_999.99).multipleOf(0.01),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, "must be an ISO 4217 code such as USD")
      .default("USD"),
  })
  .refine((r) => r.acquiredAt <= r.freshUntil, { message: "must not be before acquiredAt", path: ["freshUntil"] })
  .refine((r) => r.freshUntil <= r.staleUntil, { message: "must not be before freshUntil", path: ["staleUntil"] });

/** Provider data is stored and read only for an entity the tenant uses (and has not deleted). */
async function usedByTenant(c: pg.ClientBase, tenantId: string, entityId: string) {
  await one(sql.entities.liveLinks, { tenantId, entityIds: [entityId] }, c, "entity not found");
}

/** AAD binding a raw response ciphertext to its entity and check type. */
export const rawResponseAad = (entityId: string, checkType: string) => `screening.cached_data_sources.raw_response:${entityId}:${checkType}`;

/** Store a provider response (raw response encrypted); customer_provided data belongs to the caller's tenant. */
export const storeProviderResponse = operation({
  name: "screening.cache.store",
  input: storeSchema,
  kind: "write",
  affects: "tenant",
  context: "tenant",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx, db }) {
    await usedByTenant(c, ctx.tenantId, p.entityId);
    const row = await one(
      sql.cache.insertCacheEntry,
      {
        ...p,
        customerId: p.dataOrigin === "customer_provided" ? ctx.tenantId : null,
        rawResponse: keyring(db.config).encrypt(p.rawResponse, rawResponseAad(p.entityId, p.checkType)),
        normalizedData: JSON.stringify(p.normalizedData),
        costIncurred: p.cost.toFixed(2),
        costCurrency: p.currency,
      },
      c,
    );
    await recordEvent(c, db, ctx, "cache_stored", {
      entityId: p.entityId,
      details: { provider_id: p.providerId, check_type: p.checkType, data_origin: p.dataOrigin, cost: p.cost.toFixed(2), currency: p.currency },
    });
    return row;
  },
});

export type Freshness = "fresh" | "stale" | "expired";

/** A cache row as a caller gets it: its freshness typed and its raw response decrypted. */
function decrypted<R extends { raw_response: Buffer; entity_id: string; check_type: string }, F extends Freshness>(db: Db, r: R, freshness: F) {
  return { ...r, freshness, raw_response: keyring(db.config).decryptString(r.raw_response, rawResponseAad(r.entity_id, r.check_type)) };
}

/** Cached data for (entity, check type) visible to this tenant, newest first, with freshness as of now and the raw response decrypted. */
export const lookupCache = operation({
  name: "screening.cache.lookup",
  input: z.object({ entityId: z.uuid(), checkType }),
  kind: "read",
  context: "tenant",
  reveals: "personal",
  audit: "access",
  async run(p, { c, ctx, db }) {
    await usedByTenant(c, ctx.tenantId, p.entityId);
    return (await many(sql.cache.cacheForCheck, p, c)).map((r) => decrypted(db, r, r.freshness as Freshness));
  },
  accessed: (p, rows) => (rows.length ? { subject: p.entityId, details: { check_type: p.checkType, entries: rows.length } } : null),
});

/**
 * The cached entry worth using now for (entity, check type), or null when there is none (nothing cached, or
 * only expired entries): a fresh entry if there is one, else a stale one, the newest acquired first; never an
 * expired one. `freshness` ("fresh" or "stale", as of now) says which. One indexed query; the raw response is
 * decrypted, so the read is audited like lookupCache. An entity the tenant does not use is a NotFoundError.
 */
export const bestCacheEntry = operation({
  name: "screening.cache.best",
  input: z.object({ entityId: z.uuid(), checkType }),
  kind: "read",
  context: "tenant",
  reveals: "personal",
  audit: "access",
  async run(p, { c, ctx, db }) {
    await usedByTenant(c, ctx.tenantId, p.entityId);
    const r = await maybeOne(sql.cache.bestCacheEntry, p, c);
    return r && decrypted(db, r, r.freshness as Exclude<Freshness, "expired">);
  },
  accessed: (p, r) => (r ? { subject: p.entityId, details: { check_type: p.checkType, cache_id: r.cache_id, freshness: r.freshness } } : null),
});

/**
 * Update stored freshness_status everywhere; returns the rows changed per status. RLS applies to every role
 * here, so the sweep runs once per active tenant (each pass also covers the shared paid rows), one
 * transaction each.
 */
export const sweepFreshness = batchOperation({
  name: "screening.cache.sweep",
  input: z.object({}),
  kind: "write",
  affects: "platform",
  context: "platform",
  reveals: "nothing",
  audit: "none",
  async run(_p, { db }) {
    const tenants = await db.transaction((c) => many(sql.tenants.activeTenantIds, undefined, c), { readOnly: true });
    const changed: Record<string, number> = {};
    for (const { tenant_id } of tenants) {
      for (const r of await db.tenant(tenant_id, (c) => many(sql.cache.sweepFreshness, undefined, c))) {
        changed[r.freshness_status] = (changed[r.freshness_status] ?? 0) + Number(r.changed);
      }
    }
    return changed;
  },
});

/** What this tenant spent on provider data in [from, to), per currency (from its cache_stored events). */
export const costTotals = operation({
  name: "screening.cache.cost_totals",
  input: timeRange,
  kind: "read",
  context: "tenant",
  reveals: "tenant",
  audit: "none",
  oneStatement: true,
  run: (p, { c, ctx }) => many(sql.audit.costTotals, { tenantId: ctx.tenantId, ...p }, c),
});

/** What a retention purge removed: per tenant whose data went (each also got a cache_purged event), and in all. */
export interface CachePurgeReport {
  /** Rows whose stale_until was before this went: now() minus olderThanDays days, in the database's clock. */
  cutoff: Date;
  /** Rows deleted in all: every tenant's customer_provided rows plus the shared rows, each counted once. */
  purged: number;
  /** Shared paid_external rows deleted. */
  shared_rows: number;
  /** One entry per tenant with rows gone: its customer_provided rows, and the shared rows of entities it uses. */
  tenants: { tenant_id: string; customer_rows: number; shared_rows: number }[];
}

/**
 * Retention (a platform operation, for a scheduler): delete the cache rows whose stale_until is older than
 * now() minus `olderThanDays` (default 90): expired data kept that long after it stopped being usable. One
 * transaction on the owner connection, working through every tenant (active or not) because the cache is
 * under forced RLS. Each tenant whose data goes gets one cache_purged event with counts, never values: its
 * own customer_provided rows, and the shared paid_external rows of entities it uses (deleted or not), the
 * way an erasure is recorded: a shared row is counted in the trail of every tenant that could see it, and
 * once in the report. A shared row of an entity no tenant uses is counted in the report only.
 */
export const purgeExpiredCache = platformOperation({
  name: "screening.cache.purge",
  input: z.object({ olderThanDays: z.number().int().min(0).max(36_500).default(90) }),
  kind: "write",
  affects: "platform",
  context: "platform",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx }): Promise<CachePurgeReport> {
    const tenants: CachePurgeReport["tenants"] = [];
    for (const { tenant_id } of await many(sql.tenants.allTenantIds, undefined, c)) {
      // audit_events and tenant_entities are FORCEd: the owner, too, works as one tenant at a time.
      await setLocalTenant(c, tenant_id);
      const r = await one(
        sql.cache.purgeTenantCache,
        { tenantId: tenant_id, olderThanDays: p.olderThanDays, actorId: ctx.actorId, correlationId: ctx.correlationId },
        c,
      );
      const counts = { customer_rows: Number(r.customer_rows), shared_rows: Number(r.shared_rows) };
      if (counts.customer_rows + counts.shared_rows > 0) tenants.push({ tenant_id, ...counts });
    }
    await setLocalTenant(c, "");
    const shared = await one(sql.cache.purgeSharedCache, p, c);
    const sharedRows = Number(shared.purged);
    return { cutoff: shared.cutoff, purged: tenants.reduce((n, x) => n + x.customer_rows, sharedRows), shared_rows: sharedRows, tenants };
  },
});
