/**
 * `make explain` (src/tools/explain.ts): screening volume — 50 tenants; n entities, each with an identifier,
 * two profile versions, a relation, a cache entry and audit events — and representative values for the
 * parameters of queries/screening/*.sql. Its values are shared: wills and core queries also run with its tenant.
 */
import type { ExplainSeed } from "../tools/explain";

export const explainSeed: ExplainSeed = {
  order: 10,
  async seed(db, n) {
    await db.query("INSERT INTO screening.tenants (slug, name) SELECT 'tenant-' || g, 'Tenant ' || g FROM generate_series(1, 50) g");
    await db.query(
      `
    INSERT INTO screening.entities (entity_type, canonical_identifiers)
      SELECT (ARRAY['individual', 'organization', 'address']::screening.entity_type[])[1 + g % 3],
             '\\x01026b31'::bytea || gen_random_bytes(60) FROM generate_series(1, $1::int) g`,
      [n],
    );
    await db.query(`
    INSERT INTO screening.entity_identifiers (identifier_kind, blind_index, entity_id)
      SELECT 'ssn', sha256(entity_id::text::bytea), entity_id FROM screening.entities`);
    // Each entity is used by one tenant (row number mod 50), which owns its profiles and relations.
    await db.query(`
    INSERT INTO screening.tenant_entities (tenant_id, entity_id)
      SELECT t.tenant_id, e.entity_id
        FROM (SELECT entity_id, row_number() OVER (ORDER BY entity_id) r FROM screening.entities) e
        JOIN (SELECT tenant_id, row_number() OVER (ORDER BY tenant_id) - 1 r FROM screening.tenants) t ON t.r = e.r % 50`);
    await db.query(`
    INSERT INTO screening.entity_profiles (tenant_id, entity_id, version, previous_version, trigger_type, findings, risk_score, connections, data_sources_used)
      SELECT l.tenant_id, l.entity_id, v, nullif(v - 1, 0), 'screening', '[]', '{"score": 10}', '[]', '[]'
        FROM screening.tenant_entities l, generate_series(1, 2) v`);
    await db.query(
      `
    INSERT INTO screening.entity_relations (tenant_id, from_entity_id, to_entity_id, relation_type, confidence_score)
      SELECT l.tenant_id, a.entity_id, b.entity_id, 'employer', 0.5
        FROM (SELECT entity_id, row_number() OVER (ORDER BY entity_id) r FROM screening.entities) a
        JOIN (SELECT entity_id, row_number() OVER (ORDER BY entity_id) r FROM screening.entities) b ON b.r = a.r % $1::int + 1
        JOIN screening.tenant_entities l ON l.entity_id = a.entity_id`,
      [n],
    );
    await db.query(`
    INSERT INTO screening.cached_data_sources (entity_id, provider_id, check_type, data_origin, customer_id, acquired_at, fresh_until, stale_until,
                                               raw_response, normalized_data, cost_incurred)
      SELECT e.entity_id, 'bureau', (ARRAY['criminal_record', 'credit', 'sanctions'])[1 + r % 3],
             CASE WHEN r % 4 = 0 THEN 'customer_provided' ELSE 'paid_external' END,
             CASE WHEN r % 4 = 0 THEN (SELECT tenant_id FROM screening.tenants ORDER BY tenant_id LIMIT 1) END,
             now() - interval '1 day', now() + interval '6 days', now() + interval '30 days',
             '\\x01026b31'::bytea || gen_random_bytes(60), '{}', 1.5
        FROM (SELECT entity_id, row_number() OVER () r FROM screening.entities) e`);
    await db.query(`
    INSERT INTO screening.audit_events (tenant_id, event_type, correlation_id, entity_id, created_at)
      SELECT t.tenant_id, 'data_accessed', gen_random_uuid(), e.entity_id, now() - (random() * interval '20 days')
        FROM (SELECT entity_id, row_number() OVER () r FROM screening.entities) e
        JOIN (SELECT tenant_id, row_number() OVER () - 1 r FROM screening.tenants) t ON t.r = e.r % 50,
             generate_series(1, 2)`);
  },
  async params(_db, one) {
    const tenantId = await one("SELECT tenant_id FROM screening.tenants ORDER BY tenant_id LIMIT 1");
    const entityId = await one("SELECT entity_id FROM screening.tenant_entities WHERE tenant_id = $1 ORDER BY entity_id OFFSET 7 LIMIT 1", [tenantId]);
    const profileId = await one("SELECT profile_id FROM screening.entity_profiles LIMIT 1");
    const cacheId = await one("SELECT cache_id FROM screening.cached_data_sources LIMIT 1");
    const now = new Date();
    return {
      shared: {
        tenantId,
        entityId,
        fromEntityId: entityId,
        toEntityId: entityId,
        customerId: tenantId,
        cacheId,
        discoveredInScreening: profileId,
        triggerId: null,
        actorId: null,
        maxDepth: 2,
        version: 1,
        previousVersion: null,
        includeDeleted: false,
        slug: "tenant-1",
        name: "x",
        kind: "ssn",
        blindIndex: Buffer.alloc(32),
        activeKeyId: "k1",
        ciphertext: Buffer.alloc(40),
        canonicalIdentifiers: Buffer.alloc(40),
        rawResponse: Buffer.alloc(40),
        sensitiveDetails: null,
        entityType: "individual",
        relationType: "employer",
        confidenceScore: 0.5,
        triggerType: "screening",
        findings: "[]",
        riskScore: "{}",
        connections: "[]",
        connectionCount: 0,
        dataSourcesUsed: "[]",
        staleDataUsed: "[]",
        delta: null,
        evolutionSignals: "{}",
        providerId: "bureau",
        checkType: "credit",
        dataOrigin: "paid_external",
        acquiredAt: now,
        freshUntil: now,
        staleUntil: now,
        normalizedData: "{}",
        costIncurred: "1.00",
        costCurrency: "USD",
        eventType: "data_accessed",
        details: "{}",
        rows: [{ identifierKind: "ssn", blindIndex: Buffer.alloc(32), entityId, entityType: "individual", canonicalIdentifiers: Buffer.alloc(40) }],
        count: 10,
        entityIds: [entityId],
        entityTypes: ["individual"],
        identifierKinds: ["ssn"],
        blindIndexes: [Buffer.alloc(32)],
        removedKinds: [],
        olderThanDays: 90,
        isActive: null,
      },
      files: { "bulk.sql": { details: ["{}"], canonicalIdentifiers: [Buffer.alloc(40)] } },
    };
  },
};
