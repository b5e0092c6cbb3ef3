import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbFor } from "../../src/db/connect";
import { ValidationError } from "../../src/db/errors";
import { platformContext } from "../../src/db/operation";
import {
  createEntity,
  createTenant,
  findEntityByIdentifier,
  listAuditEvents,
  lookupCache,
  type RequestContext,
  recordAuditEvent,
  reencryptToActiveKey,
  requestContext,
  storeProviderResponse,
} from "../../src/screening";
import { testConfig, useTestDb } from "../support/db";

const t = useTestDb();
let A: RequestContext;
let B: RequestContext;
const P = platformContext();
const ctxFor = (tenantId: string) => requestContext({ tenantId, actorId: null, correlationId: crypto.randomUUID() });

beforeAll(async () => {
  A = ctxFor((await createTenant(t.db, P, { slug: "rot-a", name: "A" })).tenant_id);
  B = ctxFor((await createTenant(t.db, P, { slug: "rot-b", name: "B" })).tenant_id);
});

describe("key rotation", () => {
  let oldDb: ReturnType<typeof dbFor>;
  beforeAll(() => {
    // Same database and keys, but writing with the older key t1 (the suite's active key is t2).
    oldDb = dbFor(t.engine, testConfig(t.engine.url, { ENCRYPTION_ACTIVE_KEY_ID: "t1" }));
  });
  afterAll(() => oldDb.pool.end());

  it("moves entity identifiers and every tenant's cache rows to the active key; data still reads back", async () => {
    const kid = (b: Buffer) => b.subarray(2, 2 + (b[1] as number)).toString("ascii");
    const e = await createEntity(oldDb, A, { entityType: "individual", identifiers: { ssn: "123456789" } });
    // B starts screening the same person by resolving the SSN it holds (it then uses the shared entity).
    expect((await findEntityByIdentifier(oldDb, B, { kind: "ssn", value: "123456789" }))?.entity_id).toBe(e.entity_id);
    await storeProviderResponse(oldDb, B, {
      entityId: e.entity_id,
      providerId: "hr",
      checkType: "employment",
      dataOrigin: "customer_provided",
      acquiredAt: new Date(Date.now() - 1000),
      freshUntil: new Date(Date.now() + 60_000),
      staleUntil: new Date(Date.now() + 120_000),
      rawResponse: "B's private file",
      normalizedData: {},
      cost: 0,
    });
    const kids = async () =>
      (
        await t.db.pool.query("SELECT canonical_identifiers AS c FROM screening.entities UNION ALL SELECT raw_response FROM screening.cached_data_sources")
      ).rows.map((r) => kid(r.c));
    expect(await kids()).toContain("t1");

    const report = await reencryptToActiveKey(t.db, P, { batchSize: 1 }); // batch size 1 exercises the batching loop
    expect(report).toEqual({ entities: 1, cache_rows: 1 });
    expect(new Set(await kids())).toEqual(new Set(["t2"]));
    expect((await findEntityByIdentifier(t.db, A, { kind: "ssn", value: "123-45-6789" }))?.entity_id).toBe(e.entity_id);
    expect((await lookupCache(t.db, B, { entityId: e.entity_id, checkType: "employment" }))[0]?.raw_response).toBe("B's private file");
    expect(await reencryptToActiveKey(t.db, P)).toEqual({ entities: 0, cache_rows: 0 });
  });
});

describe("screening audit events", () => {
  it("records standalone events with encrypted sensitive details", async () => {
    await recordAuditEvent(t.db, A, { eventType: "screening_initiated", details: { package: "standard" }, sensitive: { subject_name: "Jane Doe" } });
    const { rows } = await t.db.pool.query("SELECT sensitive_details FROM screening.audit_events WHERE correlation_id = $1", [A.correlationId]);
    expect(rows.some((r) => r.sensitive_details && !r.sensitive_details.includes(Buffer.from("Jane")))).toBe(true);
    const day = 86_400_000;
    const mine = (await listAuditEvents(t.db, A, { from: new Date(Date.now() - day), to: new Date(Date.now() + day) })).filter(
      (ev) => ev.event_type === "screening_initiated",
    );
    expect(mine[0]?.sensitive).toEqual({ subject_name: "Jane Doe" });
    await expect(recordAuditEvent(t.db, A, { eventType: "entity_erased" as never })).rejects.toBeInstanceOf(ValidationError);
  });

  it("hand-written SQL as the app role sees only its own tenant's events, and cannot write another's", async () => {
    const counts = await t.db.tenant(B.tenantId, async (c) => {
      const r = await c.query("SELECT count(*) FILTER (WHERE tenant_id = $1)::int AS other, count(*)::int AS total FROM screening.audit_events", [A.tenantId]);
      return r.rows[0];
    });
    expect(counts.other).toBe(0);
    expect(counts.total).toBeGreaterThan(0);
    const forged = await t.db
      .tenant(B.tenantId, (c) =>
        c.query("INSERT INTO screening.audit_events (tenant_id, event_type, correlation_id) VALUES ($1, 'data_accessed', gen_random_uuid())", [A.tenantId]),
      )
      .catch((e) => e);
    expect(forged.code).toBe("forbidden");
    const none = await t.db.transaction(async (c) => {
      await c.query("SET LOCAL ROLE app");
      return (await c.query("SELECT count(*)::int AS n FROM screening.audit_events")).rows[0].n;
    });
    expect(none).toBe(0);
  });

  it("a tenant's one-month query scans only that month's partition", async () => {
    const now = new Date();
    const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    const month = `${from.getUTCFullYear()}_${String(from.getUTCMonth() + 1).padStart(2, "0")}`;
    const plan = await t.db.tenant(A.tenantId, async (c) => {
      const r = await c.query("EXPLAIN (FORMAT JSON) SELECT * FROM screening.audit_events WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3", [
        A.tenantId,
        from,
        to,
      ]);
      return JSON.stringify(r.rows[0]["QUERY PLAN"]);
    });
    const scanned = new Set([...plan.matchAll(/"Relation Name":"(audit_events[^"]*)"/g)].map((m) => m[1]));
    expect(scanned).toEqual(new Set([`audit_events_p${month}`]));
  });
});
