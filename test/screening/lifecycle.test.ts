/**
 * Issue 19: the operations a screening record needs over its whole life, beyond create and read: changing an
 * entity's identifiers (updateEntity), the best usable cache entry (bestCacheEntry), the cache's retention
 * purge (purgeExpiredCache, a platform operation) and tenant updates (updateTenant by the platform,
 * renameTenant by the tenant itself). Each is checked through the service, for its audit record and, where a
 * tenant could reach another's data, with hand-written SQL as `app`.
 */
import crypto from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../../src/db/errors";
import { platformContext } from "../../src/db/operation";
import { setLocalTenant } from "../../src/db/tx";
import {
  bestCacheEntry,
  createEntity,
  createTenant,
  deactivateTenant,
  findEntityByIdentifier,
  getEntity,
  lookupCache,
  purgeExpiredCache,
  renameTenant,
  type RequestContext,
  requestContext,
  restoreEntity,
  softDeleteEntity,
  storeProviderResponse,
  updateEntity,
  updateTenant,
} from "../../src/screening";
import { describeServer, SERVER_ONLY_REASON, useTestDb } from "../support/db";

const t = useTestDb();
const P = platformContext();
let A: RequestContext;
let B: RequestContext;
let C: RequestContext;
const ctxFor = (tenantId: string) => requestContext({ tenantId, actorId: crypto.randomUUID(), correlationId: crypto.randomUUID() });
const newTenant = async (slug: string) =>
  ctxFor((await createTenant(t.db, P, { slug: `${slug}-${crypto.randomBytes(3).toString("hex")}`, name: slug })).tenant_id);
const ssn = () => String(100_000_000 + crypto.randomInt(899_999_999));
const hour = 3_600_000;
const day = 24 * hour;
/** As the connecting superuser (row-level security does not bind it). */
const owner = async (sql: string, params: unknown[] = []) => (await t.db.pool.query(sql, params)).rows;
const ciphertext = async (entityId: string) => (await owner("SELECT canonical_identifiers FROM screening.entities WHERE entity_id = $1", [entityId]))[0];
const blindIndexes = async (entityId: string) =>
  owner("SELECT identifier_kind, blind_index FROM screening.entity_identifiers WHERE entity_id = $1 ORDER BY 1", [entityId]);
/** A tenant's events of one call (by its correlation id), read as the owner: the trail of a deactivated tenant too. */
const trail = (tenantId: string, correlationId: string) =>
  t.db.transaction(async (c) => {
    await setLocalTenant(c, tenantId); // audit_events is FORCEd: one tenant's trail at a time
    return (
      await c.query(
        "SELECT event_type, actor_id, entity_id, details FROM screening.audit_events WHERE tenant_id = $1 AND correlation_id = $2 ORDER BY created_at",
        [tenantId, correlationId],
      )
    ).rows;
  });

beforeAll(async () => {
  A = await newTenant("life-a");
  B = await newTenant("life-b");
  C = await newTenant("life-c");
});

describe("updateEntity", () => {
  it("sets, changes and removes identifiers; the blind indexes follow; every tenant using the entity sees it; the event names kinds, never values", async () => {
    const [s, newSsn] = [ssn(), ssn()];
    const e = await createEntity(t.db, A, { entityType: "individual", identifiers: { ssn: s, passport: "ab 1" } });
    expect((await findEntityByIdentifier(t.db, B, { kind: "ssn", value: s }))?.entity_id).toBe(e.entity_id); // B uses it too

    const ctx = ctxFor(A.tenantId);
    const updated = await updateEntity(t.db, ctx, { entityId: e.entity_id, identifiers: { passport: "cd  2", national_id: "n-1", ssn: null } });
    expect(updated).toMatchObject({
      entity_id: e.entity_id,
      entity_type: "individual",
      identifiers: { passport: "CD 2", national_id: "N-1" },
      deleted_at: null,
    });
    expect(updated.identifiers).not.toHaveProperty("ssn");
    expect(updated.updated_at.getTime()).toBeGreaterThanOrEqual(e.updated_at.getTime());
    expect((await getEntity(t.db, A, { entityId: e.entity_id })).identifiers).toEqual(updated.identifiers);
    expect((await getEntity(t.db, B, { entityId: e.entity_id })).identifiers).toEqual(updated.identifiers);

    // The blind indexes changed with the ciphertext: found by the new identifiers, no longer by the old ones.
    expect((await blindIndexes(e.entity_id)).map((r) => r.identifier_kind)).toEqual(["national_id", "passport"]);
    expect((await findEntityByIdentifier(t.db, A, { kind: "passport", value: "CD 2" }))?.entity_id).toBe(e.entity_id);
    expect(await findEntityByIdentifier(t.db, A, { kind: "passport", value: "AB 1" })).toBeNull();
    expect(await findEntityByIdentifier(t.db, A, { kind: "ssn", value: s })).toBeNull();
    // The removed SSN is free again; the new one is taken.
    expect((await createEntity(t.db, C, { entityType: "individual", identifiers: { ssn: s } })).identifiers).toEqual({ ssn: s });
    await updateEntity(t.db, A, { entityId: e.entity_id, identifiers: { ssn: newSsn } });
    expect(await createEntity(t.db, C, { entityType: "individual", identifiers: { ssn: newSsn } }).catch((x) => x)).toBeInstanceOf(ConflictError);
    expect(Buffer.from((await ciphertext(e.entity_id)).canonical_identifiers).includes(Buffer.from("CD 2"))).toBe(false);

    // The event: kinds added, changed and removed, in IDENTIFIER_KINDS order; no value anywhere.
    const [ev, ...more] = await trail(A.tenantId, ctx.correlationId);
    expect(more).toEqual([]);
    expect(JSON.stringify(ev)).not.toMatch(/CD 2|N-1|AB 1/);
    expect(ev).toEqual({
      event_type: "entity_updated",
      actor_id: ctx.actorId,
      entity_id: e.entity_id,
      details: { identifiers_added: ["national_id"], identifiers_changed: ["passport"], identifiers_removed: ["ssn"] },
    });
    // Setting what is already there, or removing what is not, changes nothing (the call still returns the entity, recorded).
    const same = ctxFor(A.tenantId);
    const before = await ciphertext(e.entity_id);
    expect((await updateEntity(t.db, same, { entityId: e.entity_id, identifiers: { passport: "cd 2", ein: null } })).identifiers).toEqual({
      passport: "CD 2",
      national_id: "N-1",
      ssn: newSsn,
    });
    expect(await ciphertext(e.entity_id)).toEqual(before);
    expect((await trail(A.tenantId, same.correlationId)).map((x) => x.details)).toEqual([
      { identifiers_added: [], identifiers_changed: [], identifiers_removed: [] },
    ]);
  });

  it("an identifier another entity holds is a ConflictError naming the constraint; nothing changes", async () => {
    const [s1, s2] = [ssn(), ssn()];
    await createEntity(t.db, B, { entityType: "individual", identifiers: { ssn: s1 } }); // another tenant's: identity is shared
    const e = await createEntity(t.db, A, { entityType: "individual", identifiers: { ssn: s2, passport: "P-9" } });
    const [stored, indexes] = [await ciphertext(e.entity_id), await blindIndexes(e.entity_id)];

    const ctx = ctxFor(A.tenantId);
    const dashed = `${s1.slice(0, 3)}-${s1.slice(3, 5)}-${s1.slice(5)}`;
    const err = await updateEntity(t.db, ctx, { entityId: e.entity_id, identifiers: { ssn: dashed, passport: "P-10" } }).catch((x) => x);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err.constraint).toBe("entity_identifiers_pkey");
    expect(err.message).not.toContain(s1);
    expect(await ciphertext(e.entity_id)).toEqual(stored);
    expect(await blindIndexes(e.entity_id)).toEqual(indexes);
    expect((await getEntity(t.db, A, { entityId: e.entity_id })).identifiers).toEqual({ ssn: s2, passport: "P-9" });
    // The failure is recorded (code and constraint, no value); no entity_updated event.
    expect(await trail(A.tenantId, ctx.correlationId)).toEqual([
      expect.objectContaining({
        event_type: "error",
        details: expect.objectContaining({ operation: "screening.entity.update", code: "conflict", constraint: "entity_identifiers_pkey" }),
      }),
    ]);
    expect(JSON.stringify(await trail(A.tenantId, ctx.correlationId))).not.toContain(s1);
  });

  it("only an entity the tenant uses and has not deleted: another tenant's is NotFound and unchanged, by the service and by SQL as app", async () => {
    const e = await createEntity(t.db, A, { entityType: "organization", identifiers: { ein: ssn() } });
    const stored = await ciphertext(e.entity_id);
    await expect(updateEntity(t.db, C, { entityId: e.entity_id, identifiers: { duns: "123" } })).rejects.toBeInstanceOf(NotFoundError);
    await expect(updateEntity(t.db, A, { entityId: crypto.randomUUID(), identifiers: { duns: "123" } })).rejects.toBeInstanceOf(NotFoundError);
    // The database functions behind it refuse too: C's transaction as `app` gets no row and changes nothing.
    const asC = await t.db.tenant(C.tenantId, async (c) => ({
      locked: (await c.query("SELECT * FROM screening.entity_for_update($1)", [e.entity_id])).rowCount,
      set: (await c.query("SELECT screening.set_entity_identifiers($1, '\\x00', '{}', '{}', '{ein}') AS u", [e.entity_id])).rows[0].u,
    }));
    expect(asC).toEqual({ locked: 0, set: null });
    expect(await ciphertext(e.entity_id)).toEqual(stored);
    expect(await blindIndexes(e.entity_id)).toHaveLength(1);
    // A deleted entity is not changed until restored; a deactivated tenant changes nothing.
    await softDeleteEntity(t.db, A, { entityId: e.entity_id });
    await expect(updateEntity(t.db, A, { entityId: e.entity_id, identifiers: { duns: "123" } })).rejects.toBeInstanceOf(NotFoundError);
    await restoreEntity(t.db, A, { entityId: e.entity_id });
    expect((await updateEntity(t.db, A, { entityId: e.entity_id, identifiers: { duns: "123" } })).identifiers).toHaveProperty("duns", "123");
    const gone = await newTenant("life-gone");
    const mine = await createEntity(t.db, gone, { entityType: "address" });
    await deactivateTenant(t.db, P, { tenantId: gone.tenantId });
    expect(await updateEntity(t.db, gone, { entityId: mine.entity_id, identifiers: { address_key: "k" } }).catch((x) => x)).toBeInstanceOf(ForbiddenError);
  });

  it("rejects bad input naming the field", async () => {
    const e = await createEntity(t.db, A, { entityType: "individual" });
    for (const [identifiers, field] of [
      [{}, "identifiers"],
      [{ ssn: "12345" }, "identifiers.ssn"],
      [{ tattoo: "x" }, "identifiers"],
      [{ passport: "" }, "identifiers.passport"],
    ] as const) {
      const err = await updateEntity(t.db, A, { entityId: e.entity_id, identifiers } as never).catch((x) => x);
      expect(err, JSON.stringify(identifiers)).toBeInstanceOf(ValidationError);
      expect(
        err.fields.some((f: string) => f.startsWith(field)),
        `${JSON.stringify(identifiers)} -> ${err.fields}`,
      ).toBe(true);
    }
  });
});

const cacheRow = (entityId: string, over: Record<string, unknown> = {}) => ({
  entityId,
  providerId: "acme-bureau",
  checkType: "credit",
  dataOrigin: "paid_external" as "paid_external" | "customer_provided",
  acquiredAt: new Date(Date.now() - hour),
  freshUntil: new Date(Date.now() + day),
  staleUntil: new Date(Date.now() + 2 * day),
  rawResponse: "paid report",
  normalizedData: {},
  cost: 1,
  ...over,
});
/** Windows relative to now, in hours: acquired, fresh until, stale until. */
const windows = (acquired: number, fresh: number, stale: number) => ({
  acquiredAt: new Date(Date.now() + acquired * hour),
  freshUntil: new Date(Date.now() + fresh * hour),
  staleUntil: new Date(Date.now() + stale * hour),
});

describe("bestCacheEntry", () => {
  it("returns a fresh entry before a stale one, the newest first, never an expired one; null when none; audited when it returns one", async () => {
    const e = await createEntity(t.db, A, { entityType: "individual", identifiers: { ssn: ssn() } });
    const best = (ctx: RequestContext, checkType = "credit") => bestCacheEntry(t.db, ctx, { entityId: e.entity_id, checkType });
    expect(await best(A)).toBeNull(); // nothing cached

    await storeProviderResponse(t.db, A, cacheRow(e.entity_id, { providerId: "expired", ...windows(-90, -80, -1) }));
    expect(await best(A)).toBeNull(); // only an expired entry

    // Stale only: the newest stale entry, flagged stale.
    await storeProviderResponse(t.db, A, cacheRow(e.entity_id, { providerId: "stale-old", ...windows(-50, -40, 10) }));
    await storeProviderResponse(t.db, A, cacheRow(e.entity_id, { providerId: "stale-new", rawResponse: "stale but usable", ...windows(-30, -20, 10) }));
    expect(await best(A)).toMatchObject({ provider_id: "stale-new", freshness: "stale", raw_response: "stale but usable" });

    // A fresh entry wins over a newer stale one; of two fresh ones, the newer.
    await storeProviderResponse(t.db, A, cacheRow(e.entity_id, { providerId: "fresh-old", ...windows(-60, 5, 30) }));
    expect(await best(A)).toMatchObject({ provider_id: "fresh-old", freshness: "fresh" });
    await storeProviderResponse(t.db, A, cacheRow(e.entity_id, { providerId: "fresh-new", rawResponse: "the latest report", ...windows(-2, 5, 30) }));
    const got = await best(A);
    expect(got).toMatchObject({ provider_id: "fresh-new", freshness: "fresh", raw_response: "the latest report", data_origin: "paid_external" });

    // Customer-provided data is its tenant's: A's newest fresh entry is its own; B (which resolved the entity) gets the shared one.
    await storeProviderResponse(
      t.db,
      A,
      cacheRow(e.entity_id, { dataOrigin: "customer_provided", providerId: "acme-hr", rawResponse: "A's own", cost: 0, ...windows(-1, 5, 30) }),
    );
    expect(await best(A)).toMatchObject({ provider_id: "acme-hr", customer_id: A.tenantId, raw_response: "A's own" });
    await expect(best(B)).rejects.toBeInstanceOf(NotFoundError); // not an entity B uses yet
    const { identifiers } = await getEntity(t.db, A, { entityId: e.entity_id });
    await findEntityByIdentifier(t.db, B, { kind: "ssn", value: identifiers.ssn as string });
    expect(await best(B)).toMatchObject({ provider_id: "fresh-new", raw_response: "the latest report" });

    // Each read that returned an entry left one data_accessed event naming the entity and the entry, no value.
    const ctx = ctxFor(A.tenantId);
    const entry = await best(ctx);
    expect(await trail(A.tenantId, ctx.correlationId)).toEqual([
      {
        event_type: "data_accessed",
        actor_id: ctx.actorId,
        entity_id: e.entity_id,
        details: { operation: "screening.cache.best", check_type: "credit", cache_id: entry?.cache_id, freshness: "fresh" },
      },
    ]);
    const none = ctxFor(A.tenantId);
    expect(await bestCacheEntry(t.db, none, { entityId: e.entity_id, checkType: "sanctions" })).toBeNull();
    expect(await trail(A.tenantId, none.correlationId)).toEqual([]); // nothing revealed, nothing recorded
  });
});

describe("purgeExpiredCache", () => {
  it("deletes rows expired longer than the period, in every tenant; each tenant's trail gets its counts, shared rows counted for every tenant using the entity", async () => {
    const [X, Y, Z] = [await newTenant("purge-x"), await newTenant("purge-y"), await newTenant("purge-z")];
    const s = ssn();
    const e = await createEntity(t.db, X, { entityType: "individual", identifiers: { ssn: s } });
    await findEntityByIdentifier(t.db, Y, { kind: "ssn", value: s }); // Y uses the entity too
    const z = await createEntity(t.db, Z, { entityType: "organization" });
    const old = windows(-50 * 24, -45 * 24, -40 * 24); // expired 40 days ago
    const recent = windows(-20 * 24, -15 * 24, -10 * 24); // expired 10 days ago: within a 30-day retention
    await storeProviderResponse(t.db, X, cacheRow(e.entity_id, { providerId: "old-paid", ...old }));
    await storeProviderResponse(t.db, X, cacheRow(e.entity_id, { providerId: "old-x", dataOrigin: "customer_provided", ...old }));
    await storeProviderResponse(t.db, Y, cacheRow(e.entity_id, { providerId: "old-y", dataOrigin: "customer_provided", ...old }));
    await storeProviderResponse(t.db, X, cacheRow(e.entity_id, { providerId: "recent-x", dataOrigin: "customer_provided", ...recent }));
    await storeProviderResponse(t.db, X, cacheRow(e.entity_id, { providerId: "fresh-paid" }));
    await storeProviderResponse(t.db, Z, cacheRow(z.entity_id, { providerId: "old-z", dataOrigin: "customer_provided", ...old }));
    await deactivateTenant(t.db, P, { tenantId: Z.tenantId }); // retention applies to a deactivated tenant's rows too

    const pctx = platformContext({ actorId: crypto.randomUUID() });
    const report = await purgeExpiredCache(t.db, pctx, { olderThanDays: 30 });
    expect(Math.abs(report.cutoff.getTime() - (Date.now() - 30 * day))).toBeLessThan(60_000);
    const byId = (a: { tenant_id: string }, b: { tenant_id: string }) => (a.tenant_id < b.tenant_id ? -1 : 1);
    expect(report).toEqual({
      cutoff: report.cutoff,
      purged: 4,
      shared_rows: 1,
      tenants: [
        { tenant_id: X.tenantId, customer_rows: 1, shared_rows: 1 },
        { tenant_id: Y.tenantId, customer_rows: 1, shared_rows: 1 },
        { tenant_id: Z.tenantId, customer_rows: 1, shared_rows: 0 },
      ].sort(byId),
    });
    expect((await lookupCache(t.db, X, { entityId: e.entity_id, checkType: "credit" })).map((r) => r.provider_id).sort()).toEqual(["fresh-paid", "recent-x"]);
    expect((await lookupCache(t.db, Y, { entityId: e.entity_id, checkType: "credit" })).map((r) => r.provider_id)).toEqual(["fresh-paid"]);
    expect(await owner("SELECT count(*)::int AS n FROM screening.cached_data_sources WHERE entity_id = $1", [z.entity_id])).toEqual([{ n: 0 }]);

    // One cache_purged event per tenant, by the platform's actor and correlation id: counts only.
    for (const [ctx, shared] of [
      [X, 1],
      [Y, 1],
      [Z, 0],
    ] as const) {
      expect(await trail(ctx.tenantId, pctx.correlationId)).toEqual([
        { event_type: "cache_purged", actor_id: pctx.actorId, entity_id: null, details: { older_than_days: 30, customer_rows: 1, shared_rows: shared } },
      ]);
    }
    expect(await trail(A.tenantId, pctx.correlationId)).toEqual([]); // nothing of A's went

    // Nothing left to purge: no rows, no events; the default period (90 days) keeps everything here.
    const again = platformContext();
    expect(await purgeExpiredCache(t.db, again, { olderThanDays: 30 })).toMatchObject({ purged: 0, shared_rows: 0, tenants: [] });
    expect(await trail(X.tenantId, again.correlationId)).toEqual([]);
    expect(await purgeExpiredCache(t.db, P)).toMatchObject({ purged: 0, tenants: [] });
    await expect(purgeExpiredCache(t.db, P, { olderThanDays: -1 })).rejects.toBeInstanceOf(ValidationError);
  });
});

describe("tenant updates", () => {
  it("the platform renames a tenant and deactivates or reactivates it; one tenant_updated event names what was set; the slug stays", async () => {
    const T = await newTenant("upd");
    const [{ slug }] = await owner("SELECT slug FROM screening.tenants WHERE tenant_id = $1", [T.tenantId]);
    const pctx = platformContext({ actorId: crypto.randomUUID() });
    expect(await updateTenant(t.db, pctx, { tenantId: T.tenantId, name: "  Renamed Ltd " })).toMatchObject({ slug, name: "Renamed Ltd", is_active: true });
    expect(await trail(T.tenantId, pctx.correlationId)).toEqual([
      { event_type: "tenant_updated", actor_id: pctx.actorId, entity_id: null, details: { name: "Renamed Ltd" } },
    ]);

    const off = platformContext();
    expect((await updateTenant(t.db, off, { tenantId: T.tenantId, isActive: false })).is_active).toBe(false);
    expect(await createEntity(t.db, T, { entityType: "address" }).catch((x) => x)).toBeInstanceOf(ForbiddenError);
    const on = platformContext();
    expect(await updateTenant(t.db, on, { tenantId: T.tenantId, name: "Back Again", isActive: true })).toMatchObject({ name: "Back Again", is_active: true });
    expect((await createEntity(t.db, T, { entityType: "address" })).entity_type).toBe("address"); // live again
    expect((await trail(T.tenantId, off.correlationId)).map((x) => x.details)).toEqual([{ is_active: false }]);
    expect((await trail(T.tenantId, on.correlationId)).map((x) => x.details)).toEqual([{ name: "Back Again", is_active: true }]);

    await expect(updateTenant(t.db, P, { tenantId: crypto.randomUUID(), name: "x" })).rejects.toBeInstanceOf(NotFoundError);
    expect((await updateTenant(t.db, P, { tenantId: T.tenantId }).catch((x) => x)).fields).toEqual(["name"]);
    expect(await updateTenant(t.db, P, { tenantId: T.tenantId, name: " " }).catch((x) => x)).toBeInstanceOf(ValidationError);
  });

  it("a tenant renames itself, and only itself: as app it can change no other tenant and nothing but its name", async () => {
    const T = await newTenant("self");
    const ctx = ctxFor(T.tenantId);
    expect(await renameTenant(t.db, ctx, { name: "Self Named" })).toMatchObject({ tenant_id: T.tenantId, name: "Self Named", is_active: true });
    expect(await trail(T.tenantId, ctx.correlationId)).toEqual([
      { event_type: "tenant_updated", actor_id: ctx.actorId, entity_id: null, details: { name: "Self Named" } },
    ]);
    const asApp = (sql: string, params: unknown[]) =>
      t.db
        .tenant(T.tenantId, (c) => c.query(sql, params))
        .then(
          (r) => r.rowCount,
          (e: unknown) => e,
        );
    expect(await asApp("UPDATE screening.tenants SET name = 'hijacked' WHERE tenant_id = $1", [A.tenantId])).toBe(0);
    expect(await asApp("UPDATE screening.tenants SET name = 'hijacked' WHERE tenant_id <> $1", [T.tenantId])).toBe(0);
    expect(await asApp("UPDATE screening.tenants SET slug = 'taken-over' WHERE tenant_id = $1", [T.tenantId])).toBeInstanceOf(ForbiddenError);
    expect(await asApp("UPDATE screening.tenants SET is_active = true WHERE tenant_id = $1", [T.tenantId])).toBeInstanceOf(ForbiddenError);
    expect((await owner("SELECT name FROM screening.tenants WHERE tenant_id = $1", [A.tenantId]))[0].name).not.toBe("hijacked");
    // A deactivated tenant cannot rename itself.
    await deactivateTenant(t.db, P, { tenantId: T.tenantId });
    expect(await renameTenant(t.db, ctx, { name: "Too Late" }).catch((x) => x)).toBeInstanceOf(ForbiddenError);
    expect(await asApp("UPDATE screening.tenants SET name = 'Too Late' WHERE tenant_id = $1", [T.tenantId])).toBe(0);
  });
});

describeServer(`races (server engine; ${SERVER_ONLY_REASON})`, () => {
  it("two tenants updating one shared entity at once both land (the row lock queues them); two entities racing for one identifier: one wins", async () => {
    const s = ssn();
    const e = await createEntity(t.db, A, { entityType: "individual", identifiers: { ssn: s } });
    await findEntityByIdentifier(t.db, B, { kind: "ssn", value: s });
    const kinds = ["passport", "national_id", "drivers_license", "tax_id"] as const;
    const results = await Promise.allSettled(
      kinds.map((kind, i) => updateEntity(t.db, i % 2 ? A : B, { entityId: e.entity_id, identifiers: { [kind]: `${kind}-${i}` } })),
    );
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    expect((await getEntity(t.db, A, { entityId: e.entity_id })).identifiers).toEqual({
      ssn: s,
      ...Object.fromEntries(kinds.map((k, i) => [k, `${k}-${i}`.toUpperCase()])),
    });
    expect((await blindIndexes(e.entity_id)).map((r) => r.identifier_kind).sort()).toEqual(["ssn", ...kinds].sort());

    const contested = `P${crypto.randomBytes(4).toString("hex")}`.toUpperCase();
    const others = await Promise.all([0, 1, 2, 3].map(() => createEntity(t.db, A, { entityType: "individual" })));
    const race = await Promise.allSettled(others.map((o) => updateEntity(t.db, A, { entityId: o.entity_id, identifiers: { passport: contested } })));
    expect(race.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of race.filter((x): x is PromiseRejectedResult => x.status === "rejected")) expect(r.reason).toBeInstanceOf(ConflictError);
    expect(
      await owner("SELECT count(*)::int AS n FROM screening.entity_identifiers WHERE entity_id = ANY($1::uuid[])", [others.map((o) => o.entity_id)]),
    ).toEqual([{ n: 1 }]);
  });
});
