/**
 * Issue 7, item 2 (part): SQL injection payloads in string parameters are stored and read back verbatim
 * and change nothing else (every value travels as a bind parameter).
 */
import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import * as screening from "../../src/screening";
import * as wills from "../../src/wills";
import { useTestDb } from "../support/db";

const t = useTestDb();

const PAYLOADS = [
  "'; DROP TABLE screening.entities; --",
  "\" OR \"1\"=\"1",
  "' OR 1=1 --",
  "x'); DELETE FROM wills.consent_records; --",
  "$1; SELECT pg_sleep(10)",
  "\\'; TRUNCATE wills.audit_logs; --",
  "Robert'); DROP TABLE Students;--",
  "' UNION SELECT canonical_identifiers FROM screening.entities --",
  "/* comment */ SELECT 1; --",
  "\u2019; DROP SCHEMA core CASCADE; --",
];

async function tableCounts() {
  const { rows } = await t.db.pool.query(`
    SELECT (SELECT count(*) FROM screening.entities)::int AS entities, (SELECT count(*) FROM screening.tenants)::int AS tenants,
           (SELECT count(*) FROM wills.consent_records)::int AS consents, (SELECT count(*) FROM wills.clauses)::int AS clauses,
           (SELECT count(*) FROM screening.cached_data_sources)::int AS cache`);
  return rows[0];
}

describe("injection payloads are data, never SQL", () => {
  it.each(PAYLOADS.map((p, i) => [i, p]))("payload %i round-trips verbatim through every string field", async (i, payload) => {
    const before = await tableCounts();
    const tenant = await screening.createTenant(t.db, { slug: `inj-${i}`, name: payload });
    expect(tenant.name).toBe(payload.trim());
    const ctx = screening.requestContext({ tenantId: tenant.tenant_id, actorId: null, correlationId: crypto.randomUUID() });

    const entity = await screening.createEntity(t.db, ctx, { entityType: "individual", identifiers: { passport: payload } });
    expect(entity.identifiers.passport).toBe(screening.normaliseIdentifier("passport", payload));
    expect((await screening.findEntityByIdentifier(t.db, ctx, "passport", payload))?.entity_id).toBe(entity.entity_id);

    await screening.createProfileVersion(t.db, ctx, { entityId: entity.entity_id, triggerType: "manual", findings: [{ id: payload, note: payload }], riskScore: { reason: payload } });
    const profile = await screening.latestProfileOf(t.db, ctx, entity.entity_id);
    expect(profile?.findings).toEqual([{ id: payload, note: payload }]);

    const window = { acquiredAt: new Date(Date.now() - 1000), freshUntil: new Date(Date.now() + 60_000), staleUntil: new Date(Date.now() + 120_000) };
    await screening.storeProviderResponse(t.db, ctx, {
      entityId: entity.entity_id, providerId: "p", checkType: "c", dataOrigin: "customer_provided", ...window,
      rawResponse: payload, normalizedData: { [payload]: payload }, cost: 0,
    });
    const [cached] = await screening.lookupCache(t.db, ctx, entity.entity_id, "c");
    expect(cached?.rawResponse).toBe(payload);
    expect(cached?.normalized_data).toEqual({ [payload]: payload });

    const wctx = wills.willsContext({ actorId: null, actorType: "system", correlationId: crypto.randomUUID(), userAgent: payload });
    const consent = await wills.grantConsent(t.db, wctx, {
      dataSubjectId: crypto.randomUUID(), categories: { will_drafting: true }, privacyPolicyVersion: "1", consentTextVersion: "1", channel: "web", userAgent: payload,
    });
    expect(consent.user_agent).toBe(payload);
    const clause = await wills.createClause(t.db, wctx, { code: `inj_${i}`, title: payload, body: payload, category: "general", willTypes: ["single"] });
    expect([clause.title, clause.body]).toEqual([payload, payload]);

    expect(await tableCounts()).toEqual({
      entities: before.entities + 1, tenants: before.tenants + 1, consents: before.consents + 1, clauses: before.clauses + 1, cache: before.cache + 1,
    });
  });

  it("payloads used as lookup keys match nothing they should not", async () => {
    const ctx = screening.requestContext({ tenantId: (await screening.createTenant(t.db, { slug: "inj-lookup", name: "x" })).tenant_id, actorId: null, correlationId: crypto.randomUUID() });
    expect(await screening.findEntityByIdentifier(t.db, ctx, "passport", "' OR '1'='1")).toBeNull();
    expect((await wills.listCurrentClauses(t.db, {})).length).toBeGreaterThan(0);
    await expect(wills.currentClause(t.db, "x' OR is_current --")).rejects.toMatchObject({ code: "validation" });
    expect(await wills.hasConsent(t.db, crypto.randomUUID(), "will_drafting", "1")).toBe(false);
  });
});
