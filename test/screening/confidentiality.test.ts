/**
 * Screening confidentiality (issue 14; migration 20261129190000000 describes the model): identity is shared
 * (entities, blind-indexed identifiers, paid_external cache), what a tenant learned is that tenant's
 * (profiles, relations, customer_provided cache); soft delete is per tenant; erasure is the platform's;
 * only live tenants get anywhere; with no tenant set, `app` sees nothing. Checked through the service and
 * with hand-written SQL as `app`, and, where the rule covers every operation, derived from the registry.
 */
import crypto from "node:crypto";
import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { ConflictError, type Db, ForbiddenError, NotFoundError, operations, platformContext, screening, wills } from "../../src";
import { keyring } from "../../src/screening/context";
import { identifiersAad } from "../../src/screening/entities";
import { useTestDb } from "../support/db";

const t = useTestDb();
const P = platformContext();
const {
  connections,
  createEntity,
  createProfileVersion,
  createTenant,
  deactivateTenant,
  eraseEntity,
  findEntityByIdentifier,
  getEntity,
  latestProfile,
  linkEntities,
  listAuditEvents,
  lookupCache,
  neighbours,
  profileHistory,
  profileVersion,
  restoreEntity,
  softDeleteEntity,
  storeProviderResponse,
} = screening;
type Ctx = screening.RequestContext;

const ctxFor = (tenantId: string): Ctx => screening.requestContext({ tenantId, actorId: crypto.randomUUID(), correlationId: crypto.randomUUID() });
const newTenant = async (slug: string) =>
  ctxFor((await createTenant(t.db, P, { slug: `${slug}-${crypto.randomBytes(3).toString("hex")}`, name: slug })).tenant_id);
const ssn = () => String(100_000_000 + crypto.randomInt(899_999_999));
const hour = 3_600_000;
const today = () => ({ from: new Date(Date.now() - 24 * hour), to: new Date(Date.now() + 24 * hour) });
/** As the connecting superuser: row-level security does not apply, every row is seen. */
const owner = async (sql: string, params: unknown[] = []) => (await t.db.pool.query(sql, params)).rows;
const count = async (sql: string, params: unknown[] = []) => Number((await owner(sql, params))[0].n);
const asApp = <R>(ctx: Ctx | string, fn: (c: pg.PoolClient) => Promise<R>) => t.db.tenant(typeof ctx === "string" ? ctx : ctx.tenantId, fn);

const paid = (entityId: string, over: Record<string, unknown> = {}) => ({
  entityId,
  providerId: "acme-bureau",
  checkType: "criminal_record",
  dataOrigin: "paid_external" as "paid_external" | "customer_provided",
  acquiredAt: new Date(Date.now() - hour),
  freshUntil: new Date(Date.now() + 24 * hour),
  staleUntil: new Date(Date.now() + 48 * hour),
  rawResponse: JSON.stringify({ records: [] }),
  normalizedData: { records: 0 },
  cost: 12.5,
  currency: "USD",
  ...over,
});
const own = (entityId: string, providerId: string, rawResponse: string) =>
  paid(entityId, { dataOrigin: "customer_provided", providerId, rawResponse, cost: 0 });

/** Every table of the screening schema (partitions are reached through their parent). */
let TABLES: string[];
beforeAll(async () => {
  TABLES = (
    await owner(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'screening' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`)
  ).map((r) => r.relname as string);
  expect(TABLES).toEqual(
    expect.arrayContaining([
      "audit_events",
      "cached_data_sources",
      "entities",
      "entity_identifiers",
      "entity_profiles",
      "entity_relations",
      "tenant_entities",
      "tenants",
    ]),
  );
  // The checks below read "everything" as the connecting role: it must not be subject to row-level security.
  expect((await owner("SELECT rolsuper OR rolbypassrls AS b FROM pg_roles WHERE rolname = current_user"))[0].b).toBe(true);
});

describe("two tenants screening the same entity", () => {
  it("each sees only its own profiles (versions from 1), relations and customer-provided cache: through the service and as app", async () => {
    const A = await newTenant("conf-a");
    const B = await newTenant("conf-b");
    const s = ssn();
    const ein = ssn();
    const e = (await createEntity(t.db, A, { entityType: "individual", identifiers: { ssn: s } })).entity_id;
    const f = (await createEntity(t.db, A, { entityType: "organization", identifiers: { ein } })).entity_id;

    // B has never linked the entity: for B it does not exist.
    await expect(getEntity(t.db, B, { entityId: e })).rejects.toBeInstanceOf(NotFoundError);
    await expect(createProfileVersion(t.db, B, { entityId: e, triggerType: "manual", findings: [], riskScore: {} })).rejects.toBeInstanceOf(NotFoundError);
    await expect(lookupCache(t.db, B, { entityId: e, checkType: "criminal_record" })).rejects.toBeInstanceOf(NotFoundError);
    await expect(storeProviderResponse(t.db, B, paid(e))).rejects.toBeInstanceOf(NotFoundError);
    await expect(linkEntities(t.db, B, { fromEntityId: e, toEntityId: f, relationType: "employer", confidenceScore: 0.5 })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect(await asApp(B, async (c) => (await c.query("SELECT count(*)::int AS n FROM screening.entities WHERE entity_id = $1", [e])).rows[0].n)).toBe(0);

    const a1 = await createProfileVersion(t.db, A, { entityId: e, triggerType: "screening", findings: [{ id: "a-f1" }], riskScore: { overall: 0.2 } });
    const a2 = await createProfileVersion(t.db, A, { entityId: e, triggerType: "monitoring", findings: [{ id: "a-f2" }], riskScore: { overall: 0.5 } });
    await linkEntities(t.db, A, { fromEntityId: e, toEntityId: f, relationType: "employer", confidenceScore: 0.9 });
    await storeProviderResponse(t.db, A, paid(e));
    await storeProviderResponse(t.db, A, own(e, "a-hr", "A's own file"));

    // B holds the same SSN: resolving it is how B starts screening the shared entity (identity is shared)...
    expect((await findEntityByIdentifier(t.db, B, { kind: "ssn", value: s }))?.entity_id).toBe(e);
    expect((await getEntity(t.db, B, { entityId: e })).identifiers).toEqual({ ssn: s });
    // ...but nothing A learned about it.
    expect(await latestProfile(t.db, B, { entityId: e })).toBeNull();
    expect(await profileHistory(t.db, B, { entityId: e })).toEqual([]);
    await expect(profileVersion(t.db, B, { entityId: e, version: 1 })).rejects.toBeInstanceOf(NotFoundError);
    expect(await neighbours(t.db, B, { entityId: e })).toEqual([]);
    expect(await connections(t.db, B, { entityId: e })).toEqual([]);
    expect((await lookupCache(t.db, B, { entityId: e, checkType: "criminal_record" })).map((r) => r.provider_id)).toEqual(["acme-bureau"]); // shared paid data

    // B's own screening: versions 1, 2 of its own, the delta against its own previous version.
    const b1 = await createProfileVersion(t.db, B, { entityId: e, triggerType: "screening", findings: [{ id: "b-f1" }], riskScore: { overall: 0.9 } });
    expect(b1).toMatchObject({ version: 1, previous_version: null, delta: null });
    const b2 = await createProfileVersion(t.db, B, { entityId: e, triggerType: "monitoring", findings: [{ id: "b-f2" }], riskScore: { overall: 0.7 } });
    expect(b2).toMatchObject({ version: 2, previous_version: 1, delta: { findings_added: ["b-f2"], findings_removed: ["b-f1"] } });
    expect(b2.delta?.risk_score?.previous).toEqual({ overall: 0.9 });
    expect((await findEntityByIdentifier(t.db, B, { kind: "ein", value: ein }))?.entity_id).toBe(f);
    // The same relation A found is B's own record (no conflict with A's).
    await linkEntities(t.db, B, { fromEntityId: e, toEntityId: f, relationType: "employer", confidenceScore: 0.3 });
    await storeProviderResponse(t.db, B, own(e, "b-hr", "B's own file"));

    for (const [ctx, [v1, v2], confidence, mineProvider, mineRaw] of [
      [A, [a1, a2], 0.9, "a-hr", "A's own file"],
      [B, [b1, b2], 0.3, "b-hr", "B's own file"],
    ] as const) {
      const who = ctx === A ? "A" : "B";
      expect((await latestProfile(t.db, ctx, { entityId: e }))?.profile_id, who).toBe(v2.profile_id);
      expect((await profileVersion(t.db, ctx, { entityId: e, version: 1 })).profile_id, who).toBe(v1.profile_id);
      expect(
        (await profileHistory(t.db, ctx, { entityId: e })).map((h) => h.profile_id),
        who,
      ).toEqual([v2.profile_id, v1.profile_id]);
      expect(
        (await neighbours(t.db, ctx, { entityId: e })).map((n) => [n.entity_id, n.relation_type, n.confidence_score]),
        who,
      ).toEqual([[f, "employer", confidence]]);
      expect(
        (await connections(t.db, ctx, { entityId: e })).map((r) => [r.entity_id, r.depth, r.confidence]),
        who,
      ).toEqual([[f, 1, confidence]]);
      const cache = await lookupCache(t.db, ctx, { entityId: e, checkType: "criminal_record" });
      expect(cache.map((r) => r.provider_id).sort(), who).toEqual(["acme-bureau", mineProvider].sort());
      expect(cache.find((r) => r.provider_id === mineProvider)?.raw_response, who).toBe(mineRaw);
    }

    // Hand-written SQL as the application role: the same picture, and no way into the other's results.
    const seenBy = (ctx: Ctx) =>
      asApp(ctx, async (c) => {
        const rows = async (sql: string) => (await c.query(sql, [e])).rows;
        return {
          tenants: (await rows("SELECT tenant_id FROM screening.tenants WHERE $1::uuid IS NOT NULL")).map((r) => r.tenant_id),
          profiles: (await rows("SELECT profile_id, tenant_id, version FROM screening.entity_profiles WHERE entity_id = $1 ORDER BY version")).map((r) => [
            r.profile_id,
            r.tenant_id,
            r.version,
          ]),
          relations: (await rows("SELECT tenant_id, confidence_score FROM screening.entity_relations WHERE $1 IN (from_entity_id, to_entity_id)")).map((r) => [
            r.tenant_id,
            r.confidence_score,
          ]),
          customerCache: (
            await rows("SELECT customer_id, provider_id FROM screening.cached_data_sources WHERE entity_id = $1 AND data_origin = 'customer_provided'")
          ).map((r) => [r.customer_id, r.provider_id]),
          links: (await rows("SELECT tenant_id FROM screening.tenant_entities WHERE entity_id = $1")).map((r) => r.tenant_id),
        };
      });
    expect(await seenBy(A)).toEqual({
      tenants: [A.tenantId],
      profiles: [
        [a1.profile_id, A.tenantId, 1],
        [a2.profile_id, A.tenantId, 2],
      ],
      relations: [[A.tenantId, 0.9]],
      customerCache: [[A.tenantId, "a-hr"]],
      links: [A.tenantId],
    });
    expect(await seenBy(B)).toEqual({
      tenants: [B.tenantId],
      profiles: [
        [b1.profile_id, B.tenantId, 1],
        [b2.profile_id, B.tenantId, 2],
      ],
      relations: [[B.tenantId, 0.3]],
      customerCache: [[B.tenantId, "b-hr"]],
      links: [B.tenantId],
    });
    const forgedProfile = await asApp(B, (c) =>
      c.query(
        `INSERT INTO screening.entity_profiles (tenant_id, entity_id, version, trigger_type, findings, risk_score, connections, data_sources_used)
         VALUES ($1, $2, 3, 'manual', '[]', '{}', '[]', '[]')`,
        [A.tenantId, e],
      ),
    ).catch((x) => x);
    expect(forgedProfile).toBeInstanceOf(ForbiddenError);
    const forgedRelation = await asApp(B, (c) =>
      c.query(
        "INSERT INTO screening.entity_relations (tenant_id, from_entity_id, to_entity_id, relation_type, confidence_score) VALUES ($1, $2, $3, 'household', 0.5)",
        [A.tenantId, e, f],
      ),
    ).catch((x) => x);
    expect(forgedRelation).toBeInstanceOf(ForbiddenError);
    const touched = await asApp(B, async (c) => ({
      relations: (await c.query("DELETE FROM screening.entity_relations WHERE from_entity_id = $1 AND tenant_id = $2", [e, A.tenantId])).rowCount,
      cache: (await c.query("DELETE FROM screening.cached_data_sources WHERE entity_id = $1 AND customer_id = $2", [e, A.tenantId])).rowCount,
    }));
    expect(touched).toEqual({ relations: 0, cache: 0 });
    // Both tenants' results are there (as the owner).
    expect(await count("SELECT count(*) AS n FROM screening.entity_profiles WHERE entity_id = $1", [e])).toBe(4);
    expect(await count("SELECT count(*) AS n FROM screening.entity_relations WHERE from_entity_id = $1", [e])).toBe(2);
    expect(await count("SELECT count(*) AS n FROM screening.cached_data_sources WHERE entity_id = $1 AND data_origin = 'customer_provided'", [e])).toBe(2);

    // A stops using the entity: B is not affected.
    await softDeleteEntity(t.db, A, { entityId: e });
    await expect(getEntity(t.db, A, { entityId: e })).rejects.toBeInstanceOf(NotFoundError);
    expect((await getEntity(t.db, B, { entityId: e })).deleted_at).toBeNull();
    expect((await findEntityByIdentifier(t.db, B, { kind: "ssn", value: s }))?.entity_id).toBe(e);
    expect((await latestProfile(t.db, B, { entityId: e }))?.profile_id).toBe(b2.profile_id);
    expect((await neighbours(t.db, B, { entityId: f })).map((n) => n.entity_id)).toEqual([e]);
    expect(await neighbours(t.db, A, { entityId: f })).toEqual([]); // A's graph skips the entity it deleted
    await createProfileVersion(t.db, B, { entityId: e, triggerType: "monitoring", findings: [], riskScore: { overall: 0.1 } });
    expect((await profileHistory(t.db, B, { entityId: e })).map((h) => h.version)).toEqual([3, 2, 1]);
  });
});

describe("soft delete (per tenant)", () => {
  it("hides the entity from reads (unless includeDeleted), the graph and new links until restored", async () => {
    const S = await newTenant("conf-soft");
    const s = ssn();
    const x = (await createEntity(t.db, S, { entityType: "individual" })).entity_id;
    const y = (await createEntity(t.db, S, { entityType: "individual", identifiers: { ssn: s } })).entity_id;
    const z = (await createEntity(t.db, S, { entityType: "organization" })).entity_id;
    const link = (from: string, to: string, relationType = "household") =>
      linkEntities(t.db, S, { fromEntityId: from, toEntityId: to, relationType, confidenceScore: 0.5 });
    await link(x, y);
    await link(y, z, "employer");
    await createProfileVersion(t.db, S, { entityId: y, triggerType: "screening", findings: [], riskScore: { overall: 0.1 } });
    expect(Object.fromEntries((await connections(t.db, S, { entityId: x, maxDepth: 3 })).map((r) => [r.entity_id, r.depth]))).toEqual({ [y]: 1, [z]: 2 });

    const deletedAt = await softDeleteEntity(t.db, S, { entityId: y });
    await expect(getEntity(t.db, S, { entityId: y })).rejects.toBeInstanceOf(NotFoundError);
    expect((await getEntity(t.db, S, { entityId: y, includeDeleted: true })).deleted_at).toEqual(deletedAt);
    expect(await findEntityByIdentifier(t.db, S, { kind: "ssn", value: s })).toBeNull();
    expect(await findEntityByIdentifier(t.db, S, { kind: "ssn", value: s, includeDeleted: true })).toMatchObject({ entity_id: y, deleted_at: deletedAt });
    await expect(getEntity(t.db, S, { entityId: y })).rejects.toBeInstanceOf(NotFoundError); // finding it did not restore it
    // Graph reads skip it (and what lies only beyond it).
    expect(await neighbours(t.db, S, { entityId: x })).toEqual([]);
    expect(await neighbours(t.db, S, { entityId: z })).toEqual([]);
    expect(await connections(t.db, S, { entityId: x, maxDepth: 3 })).toEqual([]);
    // New links to or from it are refused, naming the end that is gone.
    const to = await link(x, y, "employer").catch((e) => e);
    expect(to).toBeInstanceOf(NotFoundError);
    expect(to.message).toContain("toEntityId");
    const from = await link(y, x, "employer").catch((e) => e);
    expect(from).toBeInstanceOf(NotFoundError);
    expect(from.message).toContain("fromEntityId");
    // So are new results about it.
    await expect(createProfileVersion(t.db, S, { entityId: y, triggerType: "manual", findings: [], riskScore: {} })).rejects.toBeInstanceOf(NotFoundError);
    await expect(storeProviderResponse(t.db, S, paid(y))).rejects.toBeInstanceOf(NotFoundError);
    await expect(lookupCache(t.db, S, { entityId: y, checkType: "criminal_record" })).rejects.toBeInstanceOf(NotFoundError);
    await expect(softDeleteEntity(t.db, S, { entityId: y })).rejects.toBeInstanceOf(NotFoundError);
    // Identity stays: the identifier is still taken (restore, do not re-create).
    expect(await createEntity(t.db, S, { entityType: "individual", identifiers: { ssn: s } }).catch((e) => e)).toBeInstanceOf(ConflictError);

    await restoreEntity(t.db, S, { entityId: y });
    expect((await getEntity(t.db, S, { entityId: y })).deleted_at).toBeNull();
    expect((await findEntityByIdentifier(t.db, S, { kind: "ssn", value: s }))?.entity_id).toBe(y);
    expect((await neighbours(t.db, S, { entityId: x })).map((n) => n.entity_id)).toEqual([y]);
    expect(Object.fromEntries((await connections(t.db, S, { entityId: x, maxDepth: 3 })).map((r) => [r.entity_id, r.depth]))).toEqual({ [y]: 1, [z]: 2 });
    expect((await latestProfile(t.db, S, { entityId: y }))?.version).toBe(1);
    await link(x, y, "employer");
    await expect(restoreEntity(t.db, S, { entityId: y })).rejects.toBeInstanceOf(NotFoundError); // not deleted
    await expect(restoreEntity(t.db, S, { entityId: crypto.randomUUID() })).rejects.toBeInstanceOf(NotFoundError);

    const trail = (await listAuditEvents(t.db, S, today())).filter((ev) => ev.entity_id === y);
    expect(trail.filter((ev) => ev.event_type === "entity_deleted")).toHaveLength(1);
    expect(trail.filter((ev) => ev.event_type === "entity_updated").map((ev) => ev.details)).toEqual([{ restored: true }]);
  });
});

describe("erasure", () => {
  it("a tenant cannot erase; the platform's erase removes everything of every tenant and leaves one entity_erased in each affected trail", async () => {
    const A = await newTenant("erase-a");
    const B = await newTenant("erase-b");
    const C = await newTenant("erase-c");
    const s = ssn();
    const e = (await createEntity(t.db, A, { entityType: "individual", identifiers: { ssn: s, passport: `P${ssn()}` } })).entity_id;
    const fa = (await createEntity(t.db, A, { entityType: "organization" })).entity_id;
    await createProfileVersion(t.db, A, { entityId: e, triggerType: "screening", findings: [{ id: "x" }], riskScore: { overall: 0.2 } });
    await linkEntities(t.db, A, { fromEntityId: e, toEntityId: fa, relationType: "employer", confidenceScore: 0.8 });
    await storeProviderResponse(t.db, A, paid(e));
    await storeProviderResponse(t.db, A, own(e, "a-hr", "A's file"));
    expect((await findEntityByIdentifier(t.db, B, { kind: "ssn", value: s }))?.entity_id).toBe(e);
    const gb = (await createEntity(t.db, B, { entityType: "individual" })).entity_id;
    for (const overall of [0.3, 0.6]) await createProfileVersion(t.db, B, { entityId: e, triggerType: "monitoring", findings: [], riskScore: { overall } });
    await linkEntities(t.db, B, { fromEntityId: gb, toEntityId: e, relationType: "household", confidenceScore: 0.4 }); // e at the far end
    await storeProviderResponse(t.db, B, own(e, "b-hr", "B's file"));
    const hc = (await createEntity(t.db, C, { entityType: "individual" })).entity_id;
    await createProfileVersion(t.db, C, { entityId: hc, triggerType: "screening", findings: [], riskScore: { overall: 0.5 } });

    // There is no tenant operation that erases; `app` may not delete (or change) shared identity by hand.
    const erasers = operations().filter((o) => o.domain === "screening" && o.declaration.name.endsWith(".erase"));
    expect(erasers.map((o) => [o.declaration.name, o.declaration.context])).toEqual([["screening.entity.erase", "platform"]]);
    for (const sql of [
      "DELETE FROM screening.entities WHERE entity_id = $1",
      "UPDATE screening.entities SET entity_type = 'organization' WHERE entity_id = $1",
      "DELETE FROM screening.tenant_entities WHERE entity_id = $1",
      "DELETE FROM screening.entity_identifiers WHERE entity_id = $1",
    ]) {
      expect(await asApp(A, (c) => c.query(sql, [e])).catch((x) => x), sql).toBeInstanceOf(ForbiddenError);
    }
    expect(await count("SELECT count(*) AS n FROM screening.entities WHERE entity_id = $1", [e])).toBe(1);
    expect(await count("SELECT count(*) AS n FROM screening.entity_identifiers WHERE entity_id = $1", [e])).toBe(2);

    const erasedBefore = async (tenant: Ctx) =>
      count("SELECT count(*) AS n FROM screening.audit_events WHERE tenant_id = $1 AND event_type = 'entity_erased'", [tenant.tenantId]);
    expect([await erasedBefore(A), await erasedBefore(B), await erasedBefore(C)]).toEqual([0, 0, 0]);
    const pctx = platformContext({ actorId: crypto.randomUUID() });
    const report = await eraseEntity(t.db, pctx, { entityId: e });
    const byTenant = (r: { tenant_id: string }) => r.tenant_id;
    expect([...report.tenants].sort((a, b) => byTenant(a).localeCompare(byTenant(b)))).toEqual(
      [
        { tenant_id: A.tenantId, profiles: 1, relations: 1, cached: 1 },
        { tenant_id: B.tenantId, profiles: 2, relations: 1, cached: 1 },
      ].sort((a, b) => byTenant(a).localeCompare(byTenant(b))),
    );

    // Everything hanging off the entity is gone, in every tenant.
    for (const table of ["entities", "entity_identifiers", "tenant_entities", "entity_profiles", "cached_data_sources"]) {
      expect(await count(`SELECT count(*) AS n FROM screening.${table} WHERE entity_id = $1`, [e]), table).toBe(0);
    }
    expect(await count("SELECT count(*) AS n FROM screening.entity_relations WHERE $1 IN (from_entity_id, to_entity_id)", [e])).toBe(0);
    // ...and nothing else.
    for (const other of [fa, gb, hc]) expect(await count("SELECT count(*) AS n FROM screening.entities WHERE entity_id = $1", [other])).toBe(1);
    expect(await count("SELECT count(*) AS n FROM screening.entity_profiles WHERE entity_id = $1 AND tenant_id = $2", [hc, C.tenantId])).toBe(1);

    // Exactly one entity_erased event in each affected tenant's trail, none in the others.
    const erased = await owner(
      "SELECT tenant_id, actor_id, correlation_id, entity_id, details FROM screening.audit_events WHERE event_type = 'entity_erased' AND tenant_id = ANY ($1::uuid[]) ORDER BY tenant_id",
      [[A.tenantId, B.tenantId, C.tenantId]],
    );
    const event = (tenant: Ctx, profiles: number, relations: number) => ({
      tenant_id: tenant.tenantId,
      actor_id: pctx.actorId,
      correlation_id: pctx.correlationId,
      entity_id: e,
      details: { by: "platform", profiles, relations, customer_cache_rows: 1 },
    });
    expect(erased).toEqual([event(A, 1, 1), event(B, 2, 1)].sort((a, b) => a.tenant_id.localeCompare(b.tenant_id)));
    expect((await listAuditEvents(t.db, B, today())).filter((ev) => ev.event_type === "entity_erased").map((ev) => ev.entity_id)).toEqual([e]);
    expect((await listAuditEvents(t.db, C, today())).filter((ev) => ev.event_type === "entity_erased")).toEqual([]);

    // For the tenants, it is gone; its identifiers are free again; erasing twice is a NotFoundError.
    await expect(getEntity(t.db, B, { entityId: e, includeDeleted: true })).rejects.toBeInstanceOf(NotFoundError);
    expect(await findEntityByIdentifier(t.db, A, { kind: "ssn", value: s, includeDeleted: true })).toBeNull();
    await expect(eraseEntity(t.db, pctx, { entityId: e })).rejects.toBeInstanceOf(NotFoundError);
    expect((await createEntity(t.db, B, { entityType: "individual", identifiers: { ssn: s } })).identifiers).toEqual({ ssn: s });
  });
});

describe("shared identity is not a tenant's to destroy", () => {
  it("as app, a tenant cannot delete shared paid_external cache rows that other tenants use", async () => {
    const A = await newTenant("shared-a");
    const B = await newTenant("shared-b");
    const s = ssn();
    const e = (await createEntity(t.db, A, { entityType: "individual", identifiers: { ssn: s } })).entity_id;
    await storeProviderResponse(t.db, A, paid(e));
    expect((await findEntityByIdentifier(t.db, B, { kind: "ssn", value: s }))?.entity_id).toBe(e);
    // Refused outright, or deleting nothing: either way A's (and everyone's) paid data stays.
    const del = await asApp(B, (c) => c.query("DELETE FROM screening.cached_data_sources WHERE entity_id = $1 AND data_origin = 'paid_external'", [e])).catch(
      (x) => x,
    );
    if (!(del instanceof ForbiddenError)) expect(del.rowCount, "paid rows a tenant deleted by hand").toBe(0);
    expect(await count("SELECT count(*) AS n FROM screening.cached_data_sources WHERE entity_id = $1 AND data_origin = 'paid_external'", [e])).toBe(1);
    expect((await lookupCache(t.db, A, { entityId: e, checkType: "criminal_record" })).map((r) => r.provider_id)).toEqual(["acme-bureau"]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Registry-derived checks: valid input for every screening tenant operation, built on a tenant's fixture.

interface Fixture {
  /** An entity the tenant uses, with its SSN, a profile version 1, a relation to `other`, a customer-provided cache row. */
  entity: string;
  ssn: string;
  other: string;
  /** An entity the tenant soft-deleted (for restore). */
  deleted: string;
  /** An entity nothing else uses (for delete). */
  toDelete: string;
}

async function fixture(ctx: Ctx): Promise<Fixture> {
  const s = ssn();
  const entity = (await createEntity(t.db, ctx, { entityType: "individual", identifiers: { ssn: s } })).entity_id;
  const other = (await createEntity(t.db, ctx, { entityType: "organization" })).entity_id;
  const deleted = (await createEntity(t.db, ctx, { entityType: "individual" })).entity_id;
  const toDelete = (await createEntity(t.db, ctx, { entityType: "individual" })).entity_id;
  await softDeleteEntity(t.db, ctx, { entityId: deleted });
  await createProfileVersion(t.db, ctx, { entityId: entity, triggerType: "screening", findings: [{ id: "f1" }], riskScore: { overall: 0.1 } });
  await linkEntities(t.db, ctx, { fromEntityId: entity, toEntityId: other, relationType: "employer", confidenceScore: 0.7 });
  await storeProviderResponse(t.db, ctx, paid(entity));
  await storeProviderResponse(t.db, ctx, own(entity, "own-file", "the tenant's own file"));
  return { entity, ssn: s, other, deleted, toDelete };
}

const storedRow = () => {
  const entityId = crypto.randomUUID();
  return {
    entityId,
    entityType: "address" as const,
    canonicalIdentifiers: keyring(t.db.config).encrypt(JSON.stringify({ address_key: entityId }), identifiersAad(entityId)),
  };
};

/** A valid input for every screening operation that takes a tenant context (a new one must be added here). */
const VALID: Record<string, (f: Fixture) => unknown> = {
  "screening.audit.list": () => today(),
  "screening.audit.record": (f) => ({ eventType: "screening_initiated", entityId: f.entity, details: { package: "standard" } }),
  "screening.entity.create": () => ({ entityType: "individual", identifiers: { ssn: ssn() } }),
  "screening.entity.find_by_identifier": (f) => ({ kind: "ssn", value: f.ssn }),
  "screening.entity.get": (f) => ({ entityId: f.entity }),
  "screening.entity.update": (f) => ({ entityId: f.entity, identifiers: { passport: `U${crypto.randomBytes(4).toString("hex")}` } }),
  "screening.entity.delete": (f) => ({ entityId: f.toDelete }),
  "screening.entity.restore": (f) => ({ entityId: f.deleted }),
  "screening.entity.bulk_create": () => ({ entities: [{ entityType: "organization", identifiers: { ein: ssn() } }, { entityType: "address" }] }),
  "screening.entity.import": () => ({ rows: [storedRow()] }),
  "screening.cache.store": (f) => paid(f.entity, { checkType: "credit" }),
  "screening.cache.lookup": (f) => ({ entityId: f.entity, checkType: "criminal_record" }),
  "screening.cache.best": (f) => ({ entityId: f.entity, checkType: "criminal_record" }),
  "screening.cache.cost_totals": () => today(),
  "screening.profile.create": (f) => ({ entityId: f.entity, triggerType: "monitoring", findings: [{ id: "f2" }], riskScore: { overall: 0.3 } }),
  "screening.profile.latest": (f) => ({ entityId: f.entity }),
  "screening.profile.version": (f) => ({ entityId: f.entity, version: 1 }),
  "screening.profile.history": (f) => ({ entityId: f.entity }),
  "screening.relation.create": (f) => ({ fromEntityId: f.other, toEntityId: f.entity, relationType: "household", confidenceScore: 0.5 }),
  "screening.relation.neighbours": (f) => ({ entityId: f.entity }),
  "screening.relation.connections": (f) => ({ entityId: f.entity, maxDepth: 2 }),
  "screening.tenant.rename": () => ({ name: "Renamed Tenant" }),
};

type AnyOperation = (db: Db, ctx: unknown, input: unknown) => Promise<unknown>;
const byName = (name: string) => operations().find((o) => o.declaration.name === name) as unknown as AnyOperation;

/** Row count and a digest of every row of every screening table, as the superuser (no row-level security). */
async function checksum(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of TABLES) {
    const [r] = await owner(`SELECT count(*)::int AS n, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h FROM screening.${table} x`);
    out[table] = `${r.n}:${r.h}`;
  }
  return out;
}

describe("live tenants only", () => {
  it("every screening tenant operation (from the registry) is refused for a deactivated and an unknown tenant, writing nothing", async () => {
    const tenantOps = operations().filter((o) => o.domain === "screening" && o.declaration.context === "tenant");
    expect(tenantOps.length).toBeGreaterThanOrEqual(19);
    expect(
      tenantOps.map((o) => o.declaration.name).filter((n) => !(n in VALID)),
      "screening tenant operations without a valid input in VALID",
    ).toEqual([]);

    const live = await newTenant("live");
    const dead = await newTenant("dead");
    const liveFx = await fixture(live);
    const deadFx = await fixture(dead);
    await deactivateTenant(t.db, P, { tenantId: dead.tenantId });
    const unknown = ctxFor(crypto.randomUUID());

    // The inputs are valid: each operation succeeds for a live tenant with the same kind of fixture.
    for (const op of tenantOps) {
      const name = op.declaration.name;
      await expect(byName(name)(t.db, ctxFor(live.tenantId), VALID[name]?.(liveFx)), name).resolves.not.toBeInstanceOf(Error);
    }

    for (const [who, ctx] of [
      ["deactivated", dead],
      ["unknown", unknown],
    ] as const) {
      for (const op of tenantOps) {
        const name = op.declaration.name;
        const before = await checksum();
        const audits = await count("SELECT count(*) AS n FROM screening.audit_events");
        const err = (await byName(name)(t.db, ctxFor(ctx.tenantId), VALID[name]?.(deadFx)).catch((e) => e)) as Error;
        expect(err, `${name} for a ${who} tenant`).toBeInstanceOf(ForbiddenError);
        expect(err.message, name).toContain("the tenant is unknown or deactivated");
        expect(await count("SELECT count(*) AS n FROM screening.audit_events"), `${name} for a ${who} tenant: audit events`).toBe(audits);
        expect(await checksum(), `${name} for a ${who} tenant wrote something`).toEqual(before);
      }
    }
  });

  it("as app with hand-written SQL, a deactivated (or unknown) tenant sees no row of any screening table and cannot insert", async () => {
    const live = await newTenant("live-sql");
    const dead = await newTenant("dead-sql");
    const liveFx = await fixture(live);
    await fixture(dead);
    await deactivateTenant(t.db, P, { tenantId: dead.tenantId });
    const rowsAsApp = async (tenant: string) => {
      const out: Record<string, number> = {};
      for (const table of TABLES) out[table] = await asApp(tenant, async (c) => (await c.query(`SELECT count(*)::int AS n FROM screening.${table}`)).rows[0].n);
      return out;
    };
    const none = Object.fromEntries(TABLES.map((table) => [table, 0]));
    // The dead tenant's rows exist (the owner sees them), and a live tenant sees rows in every table.
    expect(await count("SELECT count(*) AS n FROM screening.tenant_entities WHERE tenant_id = $1", [dead.tenantId])).toBe(4);
    expect(await count("SELECT count(*) AS n FROM screening.entity_profiles WHERE tenant_id = $1", [dead.tenantId])).toBe(1);
    expect(await count("SELECT count(*) AS n FROM screening.audit_events WHERE tenant_id = $1", [dead.tenantId])).toBeGreaterThan(0);
    const liveSees = await rowsAsApp(live.tenantId);
    for (const table of TABLES) expect(liveSees[table], `live tenant, ${table}`).toBeGreaterThan(0);
    expect(await rowsAsApp(dead.tenantId)).toEqual(none);
    expect(await rowsAsApp(crypto.randomUUID())).toEqual(none);

    for (const tenant of [dead.tenantId, crypto.randomUUID()]) {
      const audit = await asApp(tenant, (c) =>
        c.query("INSERT INTO screening.audit_events (tenant_id, event_type, correlation_id) VALUES ($1, 'data_accessed', gen_random_uuid())", [tenant]),
      ).catch((x) => x);
      expect(audit).toBeInstanceOf(ForbiddenError);
    }
    // Nor start using an entity (its link), though it may resolve... nothing: identifiers are hidden too.
    const link = await asApp(dead, (c) =>
      c.query("INSERT INTO screening.tenant_entities (tenant_id, entity_id) VALUES ($1, $2)", [dead.tenantId, liveFx.entity]),
    ).catch((x) => x);
    expect(link).toBeInstanceOf(ForbiddenError);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Every read of personal data leaves one access record naming what was read (all domains, from the registry).

interface AccessCase {
  call(): Promise<{ result: unknown; correlationId: string }>;
  /** The result revealed something (the record is written only then). */
  found(result: unknown): boolean;
  /** What the record must say besides the operation. */
  names: Record<string, unknown>;
}

describe("data-access records", () => {
  it("every registered read that reveals personal data writes exactly one access record naming what was read", async () => {
    const reads = operations().filter((o) => o.declaration.kind === "read" && o.declaration.reveals === "personal");
    const S = await newTenant("access");
    const f = await fixture(S);
    const subject = crypto.randomUUID();
    const grantCtx = wills.willsContext({ actorId: subject, actorType: "data_subject", correlationId: crypto.randomUUID() });
    // The grant is under the policy version in force, so currentConsent finds it.
    await wills.publishPolicyVersion(t.db, platformContext(), { version: "2026.1", effectiveFrom: new Date(Date.now() - 1000) });
    const grant = await wills.grantConsent(t.db, grantCtx, {
      dataSubjectId: subject,
      categories: { will_drafting: true },
      privacyPolicyVersion: "2026.1",
      consentTextVersion: "v3",
      channel: "web",
    });

    const inScreening = (name: string, input: unknown) => async () => {
      const ctx = ctxFor(S.tenantId);
      return { result: await byName(name)(t.db, ctx, input), correlationId: ctx.correlationId };
    };
    const inWills = (name: string, input: unknown) => async () => {
      const ctx = wills.willsContext({ actorId: crypto.randomUUID(), actorType: "staff", correlationId: crypto.randomUUID() });
      return { result: await byName(name)(t.db, ctx, input), correlationId: ctx.correlationId };
    };
    const nonEmpty = (r: unknown) => Array.isArray(r) && r.length > 0;
    const entity = { entity_id: f.entity };
    const CASES: Record<string, AccessCase> = {
      "screening.audit.list": { call: inScreening("screening.audit.list", today()), found: nonEmpty, names: { entity_id: null } },
      "screening.entity.find_by_identifier": {
        call: inScreening("screening.entity.find_by_identifier", { kind: "ssn", value: f.ssn }),
        found: (r) => (r as { entity_id?: string } | null)?.entity_id === f.entity,
        names: entity,
      },
      "screening.entity.get": {
        call: inScreening("screening.entity.get", { entityId: f.entity }),
        found: (r) => (r as { entity_id: string }).entity_id === f.entity,
        names: entity,
      },
      "screening.cache.lookup": {
        call: inScreening("screening.cache.lookup", { entityId: f.entity, checkType: "criminal_record" }),
        found: nonEmpty,
        names: entity,
      },
      "screening.cache.best": {
        call: inScreening("screening.cache.best", { entityId: f.entity, checkType: "criminal_record" }),
        found: (r) => (r as { entity_id?: string } | null)?.entity_id === f.entity,
        names: entity,
      },
      "screening.profile.latest": { call: inScreening("screening.profile.latest", { entityId: f.entity }), found: (r) => r !== null, names: entity },
      "screening.profile.version": {
        call: inScreening("screening.profile.version", { entityId: f.entity, version: 1 }),
        found: (r) => (r as { version: number }).version === 1,
        names: entity,
      },
      "screening.profile.history": { call: inScreening("screening.profile.history", { entityId: f.entity }), found: nonEmpty, names: entity },
      "screening.relation.neighbours": { call: inScreening("screening.relation.neighbours", { entityId: f.entity }), found: nonEmpty, names: entity },
      "screening.relation.connections": { call: inScreening("screening.relation.connections", { entityId: f.entity }), found: nonEmpty, names: entity },
      "wills.consent.current": {
        call: inWills("wills.consent.current", { dataSubjectId: subject }),
        found: (r) => (r as wills.CurrentConsent).records.length > 0,
        names: { data_subject_id: subject },
      },
      "wills.consent.history": { call: inWills("wills.consent.history", { dataSubjectId: subject }), found: nonEmpty, names: { data_subject_id: subject } },
      "wills.consent.check": {
        call: inWills("wills.consent.check", { dataSubjectId: subject, category: "will_drafting" }),
        found: (r) => r === true,
        names: { data_subject_id: subject },
      },
      "wills.audit.by_subject": {
        call: inWills("wills.audit.by_subject", { dataSubjectId: subject, ...today() }),
        found: nonEmpty,
        names: { data_subject_id: subject },
      },
      "wills.audit.by_resource": {
        call: inWills("wills.audit.by_resource", { resourceType: "consent_record", resourceId: grant.id, ...today() }),
        found: nonEmpty,
        names: { details: expect.objectContaining({ resource_type: "consent_record", resource_id: grant.id }) },
      },
    };
    expect(reads.length).toBeGreaterThanOrEqual(14);
    expect(
      reads.map((o) => o.declaration.name).filter((n) => !(n in CASES)),
      "personal-data reads without a case",
    ).toEqual([]);

    for (const op of reads) {
      const name = op.declaration.name;
      const c = CASES[name] as AccessCase;
      const { result, correlationId } = await c.call();
      expect(c.found(result), `${name} found something`).toBe(true);
      if (op.domain === "screening") {
        // Everything the call wrote to the trail: the one access event, and nothing else.
        const events = await owner("SELECT tenant_id, event_type, entity_id, details FROM screening.audit_events WHERE correlation_id = $1", [correlationId]);
        expect(events, name).toEqual([
          expect.objectContaining({ tenant_id: S.tenantId, event_type: "data_accessed", details: expect.objectContaining({ operation: name }), ...c.names }),
        ]);
        expect(JSON.stringify(events[0].details), `${name}: no identifier value in the record`).not.toContain(f.ssn);
      } else if (op.domain === "wills") {
        const resource = name.split(".")[1];
        const rows = await owner("SELECT action, resource_type, data_subject_id, details FROM wills.audit_logs WHERE correlation_id = $1", [correlationId]);
        expect(rows, name).toEqual([
          expect.objectContaining({
            action: `${resource}.accessed`,
            resource_type: resource,
            details: expect.objectContaining({ operation: name }),
            ...c.names,
          }),
        ]);
      } else {
        expect.fail(`${name}: no access-record check for domain ${op.domain}`);
      }
    }
  });
});

describe("default deny", () => {
  it("as app with no tenant set, every screening table shows no row, though rows exist", async () => {
    await fixture(await newTenant("deny"));
    for (const table of TABLES) {
      expect(await count(`SELECT count(*) AS n FROM screening.${table}`), `${table} as the superuser`).toBeGreaterThan(0);
      const seen = await t.db.transaction(async (c) => (await c.query(`SELECT count(*)::int AS n FROM screening.${table}`)).rows[0].n, { asApp: true });
      expect(seen, `${table} as app with no tenant`).toBe(0);
    }
  });
});

describe("profile delta with seed-shaped data", () => {
  it('risk {"overall": 0.1} then {"overall": 0.4} is a change of 0.3', async () => {
    const T = await newTenant("delta");
    const e = (await createEntity(t.db, T, { entityType: "individual" })).entity_id;
    await createProfileVersion(t.db, T, { entityId: e, triggerType: "screening", findings: [], riskScore: { overall: 0.1 } });
    const v2 = await createProfileVersion(t.db, T, { entityId: e, triggerType: "monitoring", findings: [], riskScore: { overall: 0.4 } });
    expect(v2.delta?.risk_score).toMatchObject({ previous: { overall: 0.1 }, current: { overall: 0.4 } });
    expect(v2.delta?.risk_score?.change).toBeCloseTo(0.3, 10);
    expect((await profileVersion(t.db, T, { entityId: e, version: 2 })).delta?.risk_score?.change).toBeCloseTo(0.3, 10);
  });
});
