/**
 * The provider cache. paid_external data is shared across tenants (the seed's reuse of paid data);
 * customer_provided data is visible and writable only by the tenant that supplied it — enforced by RLS,
 * not by this code. Freshness (FRESH / STALE / EXPIRED) is computed from the timestamps at read time;
 * the sweep only keeps the stored status column current for reporting and the freshness index.
 */
import { z } from "zod";
import type { Db } from "../db/connect";
import { jsonRecord, timeRange, timestamp } from "../db/validate";
import { type RequestContext, keyring, recordEvent, runParsed } from "./context";
import { cacheForCheck, insertCacheEntry, sweepFreshness as sweepQuery } from "./queries/cache.queries";
import { activeTenantIds } from "./queries/tenants.queries";
import { costTotals as costTotalsQuery } from "./queries/audit.queries";

const storeSchema = z
  .object({
    entityId: z.uuid(),
    providerId: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,99}$/, "must be a lower-case provider id"),
    checkType: z.string().regex(/^[a-z][a-z0-9_]{0,99}$/, "must be snake_case"),
    dataOrigin: z.enum(["paid_external", "customer_provided"]),
    acquiredAt: timestamp,
    freshUntil: timestamp,
    staleUntil: timestamp,
    rawResponse: z.string().max(10_000_000),
    normalizedData: jsonRecord,
    cost: z.number().min(0).max(99_999_999.99).multipleOf(0.01),
    currency: z.string().regex(/^[A-Z]{3}$/, "must be an ISO 4217 code such as USD").default("USD"),
  })
  .refine((r) => r.acquiredAt <= r.freshUntil, { message: "must not be before acquiredAt", path: ["freshUntil"] })
  .refine((r) => r.freshUntil <= r.staleUntil, { message: "must not be before freshUntil", path: ["staleUntil"] });

/** AAD binding a raw response ciphertext to its entity and check type. */
export const rawResponseAad = (entityId: string, checkType: string) => `screening.cached_data_sources.raw_response:${entityId}:${checkType}`;

/** Store a provider response (raw response encrypted); customer_provided data belongs to the caller's tenant. */
export function storeProviderResponse(db: Db, ctx: RequestContext, input: z.input<typeof storeSchema>) {
  return runParsed(db, ctx, "cache.store", storeSchema, input, async (p, c) => {
    const [row] = await insertCacheEntry.run(
      {
        entityId: p.entityId,
        providerId: p.providerId,
        checkType: p.checkType,
        dataOrigin: p.dataOrigin,
        customerId: p.dataOrigin === "customer_provided" ? ctx.tenantId : null,
        acquiredAt: p.acquiredAt,
        freshUntil: p.freshUntil,
        staleUntil: p.staleUntil,
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
  });
}

/** Cached data for (entity, check type) visible to this tenant, newest first, with freshness as of now. */
export function lookupCache(db: Db, ctx: RequestContext, entityId: string, checkType: string) {
  return runParsed(
    db,
    ctx,
    "cache.lookup",
    z.object({ entityId: z.uuid(), checkType: z.string().regex(/^[a-z][a-z0-9_]{0,99}$/) }),
    { entityId, checkType },
    async (p, c) => {
      const rows = await cacheForCheck.run(p, c);
      if (rows.length) await recordEvent(c, db, ctx, "data_accessed", { entityId: p.entityId, details: { check_type: p.checkType, entries: rows.length } });
      const k = keyring(db.config);
      return rows.map(({ raw_response, ...r }) => ({ ...r, freshness: r.freshness as "fresh" | "stale" | "expired", rawResponse: k.decryptString(raw_response, rawResponseAad(r.entity_id, r.check_type)) }));
    },
  );
}

/**
 * Update stored freshness_status everywhere. RLS applies to every role here, so the sweep runs once per
 * active tenant (each pass also covers the shared paid rows); returns the rows changed per status.
 */
export async function sweepFreshness(db: Db): Promise<Record<string, number>> {
  const tenants = await db.transaction((c) => activeTenantIds.run(undefined, c), { readOnly: true });
  const changed: Record<string, number> = {};
  for (const { tenant_id } of tenants) {
    for (const r of await db.tenant(tenant_id, (c) => sweepQuery.run(undefined, c))) {
      changed[r.freshness_status] = (changed[r.freshness_status] ?? 0) + Number(r.changed);
    }
  }
  return changed;
}

/** What this tenant spent on provider data in [from, to), per currency (from its cache_stored events). */
export function costTotals(db: Db, ctx: RequestContext, range: { from: Date; to: Date }) {
  return runParsed(
    db,
    ctx,
    "cache.cost_totals",
    timeRange,
    range,
    (p, c) => costTotalsQuery.run({ tenantId: ctx.tenantId, ...p }, c),
    { readOnly: true },
  );
}
