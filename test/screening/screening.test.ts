import crypto from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { AppendOnlyError, ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../../src/db/errors";
import {
  connections,
  costTotals,
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
  type RequestContext,
  requestContext,
  restoreEntity,
  softDeleteEntity,
  storeProviderResponse,
  sweepFreshness,
  tenantBySlug,
} from "../../src/screening";
import { platformContext } from "../../src/db/operation";
import { describeServer, SERVER_ONLY_REASON, useTestDb } from "../support/db";

const t = useTestDb();
const P = platformContext();
let A: RequestContext;
let B: RequestContext;
const ctxFor = (tenantId: string) => requestContext({ tenantId, actorId: crypto.randomUUID(), correlationId: crypto.randomUUID() });
const ssn = () => String(100_000_000 + crypto.randomInt(899_999_999));
const hour = 3_600_000;
const today = () => ({ from: new Date(Date.now() - 24 * hour), to: new Date(Date.now() + 24 * hour) });
const count = async (sql: string, params: unknown[] = []) => Number((await t.db.pool.query(sql, params)).rows[0].n);

beforeAll(async () => {
  A = ctxFor((await createTenant(t.db, P, { slug: "acme", name: "Acme Screening" })).tenant_id);
  B = ctxFor((await createTenant(t.db, P, { slug: "globex", name: "Globex HR" })).tenant_id);
});

describe("tenants", () => {
  it("are found by slug; slugs are checked and unique; deactivation keeps the row", async () => {
    expect((await tenantBySlug(t.db, P, { slug: "acme" })).tenant_id).toBe(A.tenantId);
    await expect(createTenant(t.db, P, { slug: "Not_OK", name: "x" })).rejects.toBeInstanceOf(ValidationError);
    await expect(createTenant(t.db, P, { slug: "x".repeat(64), name: "x" })).rejects.toBeInstanceOf(ValidationError);
    const dup = await createTenant(t.db, P, { slug: "acme", name: "again" }).catch((e) => e);
    expect(dup).toBeInstanceOf(ConflictError);
    expect(dup.constraint).toBe("tenants_slug_key");
    const temp = await createTenant(t.db, P, { slug: "short-lived", name: "Temp" });
    expect((await deactivateTenant(t.db, P, { tenantId: temp.tenant_id })).is_active).toBe(false);
    await expect(tenantBySlug(t.db, P, { slug: "nobody" })).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe("entities", () => {
  it("stores identifiers encrypted and finds the entity by SSN in any formatting", async () => {
    const s = ssn();
    const e = await createEntity(t.db, A, { entityType: "individual", identifiers: { ssn: s, passport: "ab 123" } });
    expect(e.identifiers).toEqual({ ssn: s, passport: "AB 123" });
    const { rows } = await t.db.pool.query("SELECT canonical_identifiers::text AS raw FROM screening.entities WHERE entity_id = $1", [e.entity_id]);
    expect(rows[0].raw).not.toContain(s);
    expect(Buffer.from(rows[0].raw.slice(2), "hex").includes(Buffer.from(s))).toBe(false);
    const dashed = `${s.slice(0, 3)}-${s.slice(3, 5)}-${s.slice(5)}`;
    expect((await findEntityByIdentifier(t.db, B, { kind: "ssn", value: dashed }))?.entity_id).toBe(e.entity_id);
    expect(await findEntityByIdentifier(t.db, A, { kind: "ein", value: s })).toBeNull(); // same digits, other kind
  });

  it("refuses a second entity with the same SSN (ConflictError) and writes nothing", async () => {
    const s = ssn();
    await createEntity(t.db, A, { entityType: "individual", identifiers: { ssn: s } });
    const before = await count("SELECT count(*) AS n FROM screening.entities");
    const err = await createEntity(t.db, B, { entityType: "individual", identifiers: { ssn: ` ${s} ` } }).catch((e) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err.constraint).toBe("entity_identifiers_pkey");
    expect(err.message).not.toContain(s);
    expect(await count("SELECT count(*) AS n FROM screening.entities")).toBe(before);
  });

  it("rejects bad input naming the field", async () => {
    for (const [input, field] of [
      [{ entityType: "robot", identifiers: {} }, "entityType"],
      [{ entityType: "individual", identifiers: { ssn: "12345" } }, "identifiers.ssn"],
      [{ entityType: "individual", identifiers: { tattoo: "x" } }, "identifiers"],
    ] as const) {
      const err = await createEntity(t.db, A, input as never).catch((e) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect(
        err.fields.some((f: string) => f.startsWith(field)),
        `${JSON.stringify(input)} -> ${err.fields}`,
      ).toBe(true);
    }
  });

  it("soft delete hides the entity from the tenant until restored; the platform's erase removes it with profiles, relations, cache rows, identifiers and links", async () => {
    const s = ssn();
    const e = await createEntity(t.db, A, { entityType: "individual", identifiers: { ssn: s } });
    const other = await createEntity(t.db, A, { entityType: "organization" });
    const p = await createProfileVersion(t.db, A, { entityId: e.entity_id, triggerType: "screening", findings: [], riskScore: { score: 1 } });
    await linkEntities(t.db, A, {
      fromEntityId: e.entity_id,
      toEntityId: other.entity_id,
      relationType: "employer",
      confidenceScore: 0.9,
      discoveredInScreening: p.profile_id,
    });
    await storeProviderResponse(t.db, A, paid(e.entity_id));
    await storeProviderResponse(t.db, A, paid(e.entity_id, { dataOrigin: "customer_provided", providerId: "acme-hr", cost: 0 }));

    // Soft delete: the tenant stops using the entity (per tenant; its identifiers stay, they are shared identity).
    const deletedAt = await softDeleteEntity(t.db, A, { entityId: e.entity_id });
    expect(deletedAt).toBeInstanceOf(Date);
    expect(await findEntityByIdentifier(t.db, A, { kind: "ssn", value: s })).toBeNull();
    expect((await findEntityByIdentifier(t.db, A, { kind: "ssn", value: s, includeDeleted: true }))?.deleted_at).toEqual(deletedAt);
    await expect(getEntity(t.db, A, { entityId: e.entity_id })).rejects.toBeInstanceOf(NotFoundError);
    expect((await getEntity(t.db, A, { entityId: e.entity_id, includeDeleted: true })).deleted_at).toEqual(deletedAt);
    await expect(softDeleteEntity(t.db, A, { entityId: e.entity_id })).rejects.toBeInstanceOf(NotFoundError); // already deleted
    // Re-creating it is still a conflict (the identifier is taken); restoring is the way back.
    expect(await createEntity(t.db, A, { entityType: "individual", identifiers: { ssn: s } }).catch((x) => x)).toBeInstanceOf(ConflictError);
    expect(await count("SELECT count(*) AS n FROM screening.entity_identifiers WHERE entity_id = $1", [e.entity_id])).toBe(1);

    await restoreEntity(t.db, A, { entityId: e.entity_id });
    expect((await getEntity(t.db, A, { entityId: e.entity_id })).deleted_at).toBeNull();
    expect((await findEntityByIdentifier(t.db, A, { kind: "ssn", value: s }))?.entity_id).toBe(e.entity_id);
    await expect(restoreEntity(t.db, A, { entityId: e.entity_id })).rejects.toBeInstanceOf(NotFoundError); // not deleted
    expect((await latestProfile(t.db, A, { entityId: e.entity_id }))?.profile_id).toBe(p.profile_id); // nothing was lost

    // A tenant cannot erase (no DELETE for app on entities); the platform can.
    expect(await t.db.tenant(A.tenantId, (c) => c.query("DELETE FROM screening.entities WHERE entity_id = $1", [e.entity_id])).catch((x) => x)).toBeInstanceOf(
      ForbiddenError,
    );
    const report = await eraseEntity(t.db, platformContext({ actorId: crypto.randomUUID() }), { entityId: e.entity_id });
    expect(report).toEqual({ tenants: [{ tenant_id: A.tenantId, profiles: 1, relations: 1, cached: 1 }] });
    for (const table of ["entities", "entity_profiles", "cached_data_sources", "entity_identifiers", "tenant_entities"]) {
      expect(await count(`SELECT count(*) AS n FROM screening.${table} WHERE entity_id = $1`, [e.entity_id]), table).toBe(0);
    }
    expect(await count("SELECT count(*) AS n FROM screening.entity_relations WHERE $1 IN (from_entity_id, to_entity_id)", [e.entity_id])).toBe(0);
    expect((await getEntity(t.db, A, { entityId: other.entity_id })).entity_id).toBe(other.entity_id); // the other end stays
    await expect(eraseEntity(t.db, P, { entityId: e.entity_id })).rejects.toBeInstanceOf(NotFoundError);
    // The audit trail keeps its record of the soft delete, the restore and the erasure.
    const events = (await listAuditEvents(t.db, A, today())).filter((ev) => ev.entity_id === e.entity_id);
    expect(events.filter((ev) => ev.event_type === "entity_deleted")).toHaveLength(1);
    expect(events.filter((ev) => ev.event_type === "entity_updated").map((ev) => ev.details)).toEqual([{ restored: true }]);
    expect(events.filter((ev) => ev.event_type === "entity_erased").map((ev) => ev.details)).toEqual([
      { by: "platform", profiles: 1, relations: 1, customer_cache_rows: 1 },
    ]);
  });
});

const paid = (entityId: string, over: Record<string, unknown> = {}) => ({
  entityId,
  providerId: "acme-bureau",
  checkType: "criminal_record",
  dataOrigin: "paid_external" as const,
  acquiredAt: new Date(Date.now() - hour),
  freshUntil: new Date(Date.now() + 24 * hour),
  staleUntil: new Date(Date.now() + 48 * hour),
  rawResponse: JSON.stringify({ records: [], ssn_checked: "on file" }),
  normalizedData: { records: 0 },
  cost: 12.5,
  currency: "USD",
  ...over,
});

describe("profiles", () => {
  it("versions 1 and 2 with a delta; latest, by version and history", async () => {
    const e = await createEntity(t.db, A, { entityType: "individual" });
    const friend = await createEntity(t.db, A, { entityType: "individual" });
    const v1 = await createProfileVersion(t.db, A, {
      entityId: e.entity_id,
      triggerType: "screening",
      findings: [{ id: "f1", kind: "address_history" }],
      riskScore: { score: 10 },
    });
    expect(v1).toMatchObject({ version: 1, previous_version: null, delta: null, connection_count: 0 });
    const v2 = await createProfileVersion(t.db, A, {
      entityId: e.entity_id,
      triggerType: "monitoring",
      findings: [{ id: "f2", kind: "court_record" }],
      riskScore: { score: 55 },
      connections: [{ entity_id: friend.entity_id, relation_type: "household" }],
    });
    expect(v2).toMatchObject({ version: 2, previous_version: 1, connection_count: 1 });
    expect(v2.delta).toMatchObject({
      findings_added: ["f2"],
      findings_removed: ["f1"],
      risk_score: { change: 45 },
      connections_added: [`${friend.entity_id}:household`],
    });
    expect((await latestProfile(t.db, A, { entityId: e.entity_id }))?.profile_id).toBe(v2.profile_id);
    expect((await profileVersion(t.db, A, { entityId: e.entity_id, version: 1 })).profile_id).toBe(v1.profile_id);
    expect((await profileHistory(t.db, A, { entityId: e.entity_id })).map((h) => h.version)).toEqual([2, 1]);
  });

  it("round-trips a profile with 1,500 findings", async () => {
    const e = await createEntity(t.db, A, { entityType: "individual" });
    const findings = Array.from({ length: 1500 }, (_, i) => ({ id: `f${i}`, detail: "x".repeat(50), n: i }));
    await createProfileVersion(t.db, A, { entityId: e.entity_id, triggerType: "screening", findings, riskScore: { score: 1 } });
    expect((await profileVersion(t.db, A, { entityId: e.entity_id, version: 1 })).findings).toEqual(findings);
  });

  it("a profile for a missing entity is a NotFoundError; the FK rejects one written by hand", async () => {
    await expect(createProfileVersion(t.db, A, { entityId: crypto.randomUUID(), triggerType: "manual", findings: [], riskScore: {} })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    const err = await t.db
      .transaction((c) =>
        c.query(
          `INSERT INTO screening.entity_profiles (tenant_id, entity_id, version, trigger_type, findings, risk_score, connections, data_sources_used)
           VALUES ($1, gen_random_uuid(), 1, 'manual', '[]', '{}', '[]', '[]')`,
          [A.tenantId],
        ),
      )
      .catch((e) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.constraint).toBe("entity_profiles_entity_id_fkey");
  });

  it("duplicate primary keys and versions are rejected", async () => {
    const e = await createEntity(t.db, A, { entityType: "individual" });
    const v1 = await createProfileVersion(t.db, A, { entityId: e.entity_id, triggerType: "manual", findings: [], riskScore: {} });
    const insert = (id: string, version: number, prev: number | null) =>
      t.db
        .transaction((c) =>
          c.query(
            `INSERT INTO screening.entity_profiles (profile_id, tenant_id, entity_id, version, previous_version, trigger_type, findings, risk_score, connections, data_sources_used)
             VALUES ($1, $2, $3, $4, $5, 'manual', '[]', '{}', '[]', '[]')`,
            [id, A.tenantId, e.entity_id, version, prev],
          ),
        )
        .catch((x) => x);
    expect((await insert(v1.profile_id, 2, 1)).constraint).toBe("entity_profiles_pkey");
    expect((await insert(crypto.randomUUID(), 1, null)).constraint).toBe("idx_profile_version");
    expect((await insert(crypto.randomUUID(), 3, 1)).constraint).toBe("entity_profiles_previous_version_check");
  });
});

describe("CHECK constraints name themselves", () => {
  it.each([
    [
      "entity_relations_confidence_range",
      "INSERT INTO screening.entity_relations (tenant_id, from_entity_id, to_entity_id, relation_type, confidence_score) SELECT t, a, b, 'employer', 1.5 FROM ids",
    ],
    [
      "entity_relations_no_self",
      "INSERT INTO screening.entity_relations (tenant_id, from_entity_id, to_entity_id, relation_type, confidence_score) SELECT t, a, a, 'employer', 0.5 FROM ids",
    ],
    [
      "entity_profiles_connection_count_check",
      "INSERT INTO screening.entity_profiles (tenant_id, entity_id, version, trigger_type, findings, risk_score, connections, data_sources_used, connection_count) SELECT t, a, 1, 'manual', '[]', '{}', '[]', '[]', -1 FROM ids",
    ],
    [
      "entity_profiles_trigger_type_check",
      "INSERT INTO screening.entity_profiles (tenant_id, entity_id, version, trigger_type, findings, risk_score, connections, data_sources_used) SELECT t, a, 1, 'whim', '[]', '{}', '[]', '[]' FROM ids",
    ],
    [
      "cached_data_sources_origin_customer",
      "INSERT INTO screening.cached_data_sources (entity_id, provider_id, check_type, data_origin, acquired_at, fresh_until, stale_until, raw_response, normalized_data, cost_incurred) SELECT a, 'p', 'c', 'customer_provided', now(), now(), now(), '\\x00', '{}', 0 FROM ids",
    ],
    [
      "cached_data_sources_window_order",
      "INSERT INTO screening.cached_data_sources (entity_id, provider_id, check_type, data_origin, acquired_at, fresh_until, stale_until, raw_response, normalized_data, cost_incurred) SELECT a, 'p', 'c', 'paid_external', now(), now() + interval '2 days', now() + interval '1 day', '\\x00', '{}', 0 FROM ids",
    ],
    [
      "cached_data_sources_cost_nonnegative",
      "INSERT INTO screening.cached_data_sources (entity_id, provider_id, check_type, data_origin, acquired_at, fresh_until, stale_until, raw_response, normalized_data, cost_incurred) SELECT a, 'p', 'c', 'paid_external', now(), now(), now(), '\\x00', '{}', -1 FROM ids",
    ],
    [
      "cached_data_sources_currency_format",
      "INSERT INTO screening.cached_data_sources (entity_id, provider_id, check_type, data_origin, acquired_at, fresh_until, stale_until, raw_response, normalized_data, cost_incurred, cost_currency) SELECT a, 'p', 'c', 'paid_external', now(), now(), now(), '\\x00', '{}', 0, 'usd' FROM ids",
    ],
    ["tenants_slug_format", "INSERT INTO screening.tenants (slug, name) VALUES ('-bad-', 'x')"],
    ["tenants_name_length", "INSERT INTO screening.tenants (slug, name) VALUES ('fine', '')"],
    [
      "entity_identifiers_kind_check",
      "INSERT INTO screening.entity_identifiers (identifier_kind, blind_index, entity_id) SELECT 'shoe_size', decode(repeat('00', 32), 'hex'), a FROM ids",
    ],
    [
      "entity_identifiers_blind_index_length",
      "INSERT INTO screening.entity_identifiers (identifier_kind, blind_index, entity_id) SELECT 'ssn', '\\x00', a FROM ids",
    ],
    [
      "entity_relations_type_format",
      "INSERT INTO screening.entity_relations (tenant_id, from_entity_id, to_entity_id, relation_type, confidence_score) SELECT t, a, b, 'Best Friend', 0.5 FROM ids",
    ],
    [
      "entity_profiles_findings_array",
      "INSERT INTO screening.entity_profiles (tenant_id, entity_id, version, trigger_type, findings, risk_score, connections, data_sources_used) SELECT t, a, 1, 'manual', '{}', '{}', '[]', '[]' FROM ids",
    ],
    [
      "entity_profiles_risk_score_object",
      "INSERT INTO screening.entity_profiles (tenant_id, entity_id, version, trigger_type, findings, risk_score, connections, data_sources_used) SELECT t, a, 1, 'manual', '[]', '5', '[]', '[]' FROM ids",
    ],
    [
      "cached_data_sources_origin_check",
      "INSERT INTO screening.cached_data_sources (entity_id, provider_id, check_type, data_origin, acquired_at, fresh_until, stale_until, raw_response, normalized_data, cost_incurred) SELECT a, 'p', 'c', 'found_it', now(), now(), now(), '\\x00', '{}', 0 FROM ids",
    ],
    [
      "cached_data_sources_freshness_status_check",
      "INSERT INTO screening.cached_data_sources (entity_id, provider_id, check_type, data_origin, acquired_at, fresh_until, stale_until, raw_response, normalized_data, cost_incurred, freshness_status) SELECT a, 'p', 'c', 'paid_external', now(), now(), now(), '\\x00', '{}', 0, 'rotten' FROM ids",
    ],
    [
      "cached_data_sources_provider_format",
      "INSERT INTO screening.cached_data_sources (entity_id, provider_id, check_type, data_origin, acquired_at, fresh_until, stale_until, raw_response, normalized_data, cost_incurred) SELECT a, 'P P', 'c', 'paid_external', now(), now(), now(), '\\x00', '{}', 0 FROM ids",
    ],
    [
      "cached_data_sources_check_type_format",
      "INSERT INTO screening.cached_data_sources (entity_id, provider_id, check_type, data_origin, acquired_at, fresh_until, stale_until, raw_response, normalized_data, cost_incurred) SELECT a, 'p', 'C C', 'paid_external', now(), now(), now(), '\\x00', '{}', 0 FROM ids",
    ],
    ["audit_events_event_type_check", "INSERT INTO screening.audit_events (tenant_id, event_type, correlation_id) SELECT a, 'gossip', b FROM ids"],
    ["audit_events_details_object", "INSERT INTO screening.audit_events (tenant_id, event_type, correlation_id, details) SELECT a, 'error', b, '[]' FROM ids"],
  ])("%s", async (constraint, sql) => {
    const [a, b] = await Promise.all([createEntity(t.db, A, { entityType: "individual" }), createEntity(t.db, A, { entityType: "individual" })]);
    const err = await t.db
      .transaction((c) => c.query(`WITH ids AS (SELECT $1::uuid AS a, $2::uuid AS b, $3::uuid AS t) ${sql}`, [a.entity_id, b.entity_id, A.tenantId]))
      .catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.constraint).toBe(constraint);
  });

  it("version 0 is refused (entity_profiles_version_positive, with the previous-version rule it implies)", async () => {
    const e = await createEntity(t.db, A, { entityType: "individual" });
    const err = await t.db
      .transaction((c) =>
        c.query(
          `INSERT INTO screening.entity_profiles (tenant_id, entity_id, version, previous_version, trigger_type, findings, risk_score, connections, data_sources_used)
           VALUES ($1, $2, 0, -1, 'manual', '[]', '{}', '[]', '[]')`,
          [A.tenantId, e.entity_id],
        ),
      )
      .catch((x) => x);
    expect(err).toBeInstanceOf(ValidationError);
    expect(["entity_profiles_version_positive", "entity_profiles_previous_version_check"]).toContain(err.constraint);
  });
});

describe("relations", () => {
  it("links entities, lists neighbours, and finds connections to depth N without looping", async () => {
    const ids = (await Promise.all([0, 1, 2, 3].map(() => createEntity(t.db, A, { entityType: "individual" })))).map((x) => x.entity_id);
    const [a, b, c, d] = ids as [string, string, string, string];
    const link = (from: string, to: string, relationType: string, confidenceScore: number) =>
      linkEntities(t.db, A, { fromEntityId: from, toEntityId: to, relationType, confidenceScore });
    await link(a, b, "employer", 0.9);
    await link(b, c, "household", 0.5);
    await link(c, d, "business_partner", 0.8);
    await link(c, a, "household", 0.4); // a cycle
    expect((await neighbours(t.db, A, { entityId: a })).map((n) => n.entity_id).sort()).toEqual([b, c].sort());
    const within2 = await connections(t.db, A, { entityId: a, maxDepth: 2 });
    expect(Object.fromEntries(within2.map((r) => [r.entity_id, r.depth]))).toEqual({ [b]: 1, [c]: 1, [d]: 2 });
    expect((await connections(t.db, A, { entityId: a, maxDepth: 1 })).map((r) => r.entity_id).sort()).toEqual([b, c].sort());
    expect(await link(a, b, "employer", 0.7).catch((e) => e)).toBeInstanceOf(ConflictError);
    await expect(link(a, b, "friend", 1.5)).rejects.toBeInstanceOf(ValidationError);
    await expect(link(a, a, "friend", 0.5)).rejects.toBeInstanceOf(ValidationError);
  });
});

describe("provider cache and tenant isolation", () => {
  it("shares paid data across tenants, keeps customer-provided data private, computes freshness at read time", async () => {
    const s = ssn();
    const e = await createEntity(t.db, A, { entityType: "individual", identifiers: { ssn: s } });
    await storeProviderResponse(t.db, A, paid(e.entity_id));
    await storeProviderResponse(
      t.db,
      A,
      paid(e.entity_id, { dataOrigin: "customer_provided", providerId: "acme-hr", rawResponse: "acme's own file", cost: 0 }),
    );
    await storeProviderResponse(
      t.db,
      A,
      paid(e.entity_id, {
        providerId: "old-bureau",
        acquiredAt: new Date(Date.now() - 72 * hour),
        freshUntil: new Date(Date.now() - 48 * hour),
        staleUntil: new Date(Date.now() + hour),
      }),
    );

    const forA = await lookupCache(t.db, A, { entityId: e.entity_id, checkType: "criminal_record" });
    // B reads cached data only for an entity it uses: it starts screening this one by resolving the SSN it holds.
    await expect(lookupCache(t.db, B, { entityId: e.entity_id, checkType: "criminal_record" })).rejects.toBeInstanceOf(NotFoundError);
    expect((await findEntityByIdentifier(t.db, B, { kind: "ssn", value: s }))?.entity_id).toBe(e.entity_id);
    const forB = await lookupCache(t.db, B, { entityId: e.entity_id, checkType: "criminal_record" });
    expect(forA.map((r) => r.provider_id).sort()).toEqual(["acme-bureau", "acme-hr", "old-bureau"]);
    expect(forB.map((r) => r.provider_id).sort()).toEqual(["acme-bureau", "old-bureau"]);
    expect(forA.find((r) => r.provider_id === "acme-hr")?.raw_response).toBe("acme's own file");
    expect(Object.fromEntries(forB.map((r) => [r.provider_id, r.freshness]))).toEqual({ "acme-bureau": "fresh", "old-bureau": "stale" });

    // Hand-written SQL as the application role with B's tenant: A's private row is invisible and untouchable.
    const asB = await t.db.tenant(B.tenantId, async (c) => {
      const seen = await c.query("SELECT count(*)::int AS n FROM screening.cached_data_sources WHERE data_origin = 'customer_provided' AND entity_id = $1", [
        e.entity_id,
      ]);
      const del = await c.query("DELETE FROM screening.cached_data_sources WHERE data_origin = 'customer_provided' AND entity_id = $1", [e.entity_id]);
      return { seen: seen.rows[0].n, deleted: del.rowCount };
    });
    expect(asB).toEqual({ seen: 0, deleted: 0 });
    const forged = await t.db
      .tenant(B.tenantId, (c) =>
        c.query(
          `INSERT INTO screening.cached_data_sources (entity_id, provider_id, check_type, data_origin, customer_id, acquired_at, fresh_until, stale_until, raw_response, normalized_data, cost_incurred)
           VALUES ($1, 'p', 'c', 'customer_provided', $2, now(), now(), now(), '\\x00', '{}', 0)`,
          [e.entity_id, A.tenantId],
        ),
      )
      .catch((x) => x);
    expect(forged).toBeInstanceOf(ForbiddenError);

    // Time passes for old-bureau's data (moved by hand as the owner): its stored status is now out of date.
    await t.db.pool.query(
      "UPDATE screening.cached_data_sources SET fresh_until = acquired_at, stale_until = acquired_at + interval '1 hour' WHERE provider_id = 'old-bureau' AND entity_id = $1",
      [e.entity_id],
    );
    expect((await lookupCache(t.db, B, { entityId: e.entity_id, checkType: "criminal_record" })).find((r) => r.provider_id === "old-bureau")?.freshness).toBe(
      "expired",
    );
    const swept = await sweepFreshness(t.db, P);
    expect(swept.expired).toBeGreaterThanOrEqual(1);
    const { rows } = await t.db.pool.query("SELECT freshness_status FROM screening.cached_data_sources WHERE provider_id = 'old-bureau' AND entity_id = $1", [
      e.entity_id,
    ]);
    expect(rows).toEqual([{ freshness_status: "expired" }]);
    expect(await sweepFreshness(t.db, P)).toEqual({}); // nothing left to change
  });

  it("rejects bad cache input naming the field, and totals what each tenant spent", async () => {
    const e = await createEntity(t.db, B, { entityType: "organization" });
    for (const [over, field] of [
      [{ cost: -1 }, "cost"],
      [{ currency: "usd" }, "currency"],
      [{ freshUntil: new Date(Date.now() - 10 * hour) }, "freshUntil"],
      [{ dataOrigin: "stolen" }, "dataOrigin"],
    ] as const) {
      const err = await storeProviderResponse(t.db, B, paid(e.entity_id, over) as never).catch((x) => x);
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.fields).toContain(field);
    }
    await storeProviderResponse(t.db, B, paid(e.entity_id, { cost: 10.25 }));
    await storeProviderResponse(t.db, B, paid(e.entity_id, { cost: 4.5, checkType: "credit" }));
    await storeProviderResponse(t.db, B, paid(e.entity_id, { cost: 3, currency: "ZAR", checkType: "sanctions" }));
    const totals = await costTotals(t.db, B, today());
    expect(totals.map((r) => [r.currency, Number(r.total)])).toEqual([
      ["USD", 14.75],
      ["ZAR", 3],
    ]);
  });
});

describe("audit events", () => {
  it("carry actor and correlation id, stay within the tenant, and failures are audited separately", async () => {
    const ctx = ctxFor(A.tenantId);
    const e = await createEntity(t.db, ctx, { entityType: "address" });
    const err = await createEntity(t.db, ctx, { entityType: "individual", identifiers: { ssn: "1" } }).catch((x) => x);
    expect(err).toBeInstanceOf(ValidationError);
    const mine = (await listAuditEvents(t.db, A, today())).filter((ev) => ev.correlation_id === ctx.correlationId);
    expect(mine.map((ev) => ev.event_type)).toEqual(["entity_created", "error"]);
    expect(mine.every((ev) => ev.actor_id === ctx.actorId)).toBe(true);
    expect(mine[0]?.entity_id).toBe(e.entity_id);
    expect(mine[1]?.details).toMatchObject({ operation: "screening.entity.create", code: "validation" });
    expect((await listAuditEvents(t.db, B, today())).some((ev) => ev.correlation_id === ctx.correlationId)).toBe(false);
    for (const sql of ["UPDATE screening.audit_events SET event_type = 'error'", "DELETE FROM screening.audit_events", "TRUNCATE screening.audit_events"]) {
      // Not granted to the application role, and refused by the append-only guard for the owner.
      expect(await t.db.tenant(A.tenantId, (c) => c.query(sql)).catch((x) => x), sql).toBeInstanceOf(ForbiddenError);
      expect(await t.db.transaction((c) => c.query(sql)).catch((x) => x), `${sql} as owner`).toBeInstanceOf(AppendOnlyError);
    }
  });
});

describe("indexes are used (EXPLAIN)", () => {
  it("profile by version and cache by (entity, check_type)", async () => {
    const plan = async (sql: string, params: unknown[]) =>
      t.db.transaction(async (c) => {
        await c.query("SET LOCAL enable_seqscan = off"); // tiny tables: ask whether an index CAN serve the query
        return JSON.stringify((await c.query(`EXPLAIN (FORMAT JSON) ${sql}`, params)).rows[0]["QUERY PLAN"]);
      });
    const id = crypto.randomUUID();
    // As the service asks for it (ProfileByVersion): one tenant's version of an entity's profile. The entity has a
    // long history in two tenants (so the plain entity_id index, which the erasure cascade uses, is not as good).
    const e = await createEntity(t.db, A, { entityType: "individual" });
    await t.db.transaction(async (c) => {
      for (const tenant of [A.tenantId, B.tenantId]) {
        await c.query(
          `INSERT INTO screening.entity_profiles (tenant_id, entity_id, version, previous_version, trigger_type, findings, risk_score, connections, data_sources_used)
           SELECT $1, $2, v, nullif(v - 1, 0), 'monitoring', '[]', '{}', '[]', '[]' FROM generate_series(1, 200) v`,
          [tenant, e.entity_id],
        );
      }
    });
    await t.db.pool.query("ANALYZE screening.entity_profiles");
    expect(
      await plan("SELECT * FROM screening.entity_profiles WHERE tenant_id = $1 AND entity_id = $2 AND version = $3", [A.tenantId, e.entity_id, 100]),
    ).toContain('"Index Name":"idx_profile_version"');
    expect(await plan("SELECT * FROM screening.cached_data_sources WHERE entity_id = $1 AND check_type = $2", [id, "credit"])).toContain(
      '"Index Name":"idx_cache_entity_check"',
    );
  });
});

describeServer(`races (server engine; ${SERVER_ONLY_REASON})`, () => {
  it("50 concurrent profile writers for one entity get versions 1..50, no gap, no error", async () => {
    const e = await createEntity(t.db, A, { entityType: "individual" });
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        createProfileVersion(t.db, A, { entityId: e.entity_id, triggerType: "monitoring", findings: [{ id: `f${i}` }], riskScore: { score: i } }),
      ),
    );
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    const { rows } = await t.db.pool.query("SELECT version FROM screening.entity_profiles WHERE tenant_id = $1 AND entity_id = $2 ORDER BY version", [
      A.tenantId,
      e.entity_id,
    ]);
    expect(rows.map((r) => r.version)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it("concurrent creation of the same SSN: exactly one wins, the others get ConflictError", async () => {
    const s = ssn();
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => createEntity(t.db, A, { entityType: "individual", identifiers: { ssn: s } })));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results.filter((x): x is PromiseRejectedResult => x.status === "rejected")) expect(r.reason).toBeInstanceOf(ConflictError);
  });
});
