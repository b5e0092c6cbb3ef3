/**
 * Issue 7, item 1: the bad-input matrix. For every public service function, fast-check replaces one field
 * of a valid input with a bad value of its kind (wrong type, missing, empty or oversized string, invalid
 * enum, out-of-range number, malformed UUID or JSON shape, NUL byte, unpaired surrogate = invalid UTF-8).
 * Each call must fail with a ValidationError that names the field, never a raw driver error, and the
 * business tables must be byte-for-byte unchanged (checksum); the only rows added anywhere are
 * screening `error` audit events, written on purpose for every failed call.
 */
import crypto from "node:crypto";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureAllPartitions, ensurePartitions } from "../../src/core/partitions";
import { ValidationError } from "../../src/db/errors";
import * as s from "../../src/screening";
import * as w from "../../src/wills";
import { useTestDb } from "../support/db";

const t = useTestDb();
let ctx: s.RequestContext;
let wctx: w.WillsContext;
let entityId: string;

type Kind =
  | { k: "uuid" }
  | { k: "text"; min?: number; max: number }
  | { k: "enum"; values: readonly string[] }
  | { k: "number"; min: number; max: number; int?: boolean }
  | { k: "date" }
  | { k: "record" }
  | { k: "array" };

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MISSING = Symbol("missing");
const common = [MISSING, "\u0000", "a\uD800b", { nested: "\u0000" }];

function badValues(kind: Kind): fc.Arbitrary<unknown> {
  switch (kind.k) {
    case "uuid":
      return fc.oneof(fc.constantFrom(...common, "", "not-a-uuid", "00000000-0000-0000-0000-00000000000g", 42, true, [], {}), fc.string().filter((x) => !UUID_RE.test(x)));
    case "text":
      return fc.constantFrom(...common, 42, true, [], {}, "x".repeat(kind.max + 1), ...(kind.min ? [""] : []), `ok\u0000${"x"}`);
    case "enum":
      return fc.oneof(fc.constantFrom(...common, 5, "", [], {}), fc.string().filter((x) => !kind.values.includes(x)));
    case "number":
      return fc.constantFrom(...common, "1", Number.NaN, Number.POSITIVE_INFINITY, kind.min - 1, kind.max + 1, ...(kind.int ? [kind.min + 0.5] : []));
    case "date":
      return fc.constantFrom(...common, "2020-01-01", new Date("invalid"), 0);
    case "record":
      return fc.constantFrom(...common, "x", [1], 5, true);
    case "array":
      return fc.constantFrom(...common, "x", { a: 1 }, 5);
  }
}

interface Spec {
  fn: string;
  valid: () => Record<string, unknown>;
  call: (input: Record<string, unknown>) => Promise<unknown>;
  fields: Record<string, Kind>;
}

const uuid = { k: "uuid" } as const;
const day = 86_400_000;
const range = () => ({ from: new Date(Date.now() - day), to: new Date(Date.now() + day) });
const cacheInput = () => ({
  entityId, providerId: "p", checkType: "credit", dataOrigin: "paid_external", acquiredAt: new Date(Date.now() - 1000),
  freshUntil: new Date(Date.now() + 1000), staleUntil: new Date(Date.now() + 2000), rawResponse: "{}", normalizedData: {}, cost: 1, currency: "USD",
});
const I = (x: Record<string, unknown>) => x as never;

const SPECS: Spec[] = [
  // core
  { fn: "core.ensureAllPartitions", valid: () => ({ monthsAhead: 3 }), call: (i) => ensureAllPartitions(t.db, i.monthsAhead as number), fields: { monthsAhead: { k: "number", min: 0, max: 120, int: true } } },
  { fn: "core.ensurePartitions", valid: () => ({ parent: "wills.audit_logs", ahead: 3 }), call: (i) => ensurePartitions(t.db, i.parent as string, i.ahead as number), fields: { parent: { k: "text", max: 130 }, ahead: { k: "number", min: 0, max: 120, int: true } } },
  // screening
  { fn: "screening.requestContext", valid: () => ({ tenantId: crypto.randomUUID(), actorId: null, correlationId: crypto.randomUUID() }), call: async (i) => s.requestContext(I(i)), fields: { tenantId: uuid, correlationId: uuid } },
  { fn: "screening.createTenant", valid: () => ({ slug: "ok-slug", name: "Name" }), call: (i) => s.createTenant(t.db, I(i)), fields: { slug: { k: "text", min: 1, max: 63 }, name: { k: "text", min: 1, max: 200 } } },
  { fn: "screening.tenantBySlugOrThrow", valid: () => ({ slug: "bad-input" }), call: (i) => s.tenantBySlugOrThrow(t.db, i.slug as string), fields: { slug: { k: "text", min: 1, max: 63 } } },
  { fn: "screening.deactivateTenant", valid: () => ({ tenantId: crypto.randomUUID() }), call: (i) => s.deactivateTenant(t.db, i.tenantId as string), fields: { tenantId: uuid } },
  { fn: "screening.createEntity", valid: () => ({ entityType: "individual", identifiers: { passport: "X1" } }), call: (i) => s.createEntity(t.db, ctx, I(i)), fields: { entityType: { k: "enum", values: ["individual", "organization", "address"] }, identifiers: { k: "record" } } },
  { fn: "screening.findEntityByIdentifier", valid: () => ({ kind: "ssn", value: "123456789" }), call: (i) => s.findEntityByIdentifier(t.db, ctx, i.kind as never, i.value as string), fields: { kind: { k: "enum", values: s.IDENTIFIER_KINDS }, value: { k: "text", min: 1, max: 200 } } },
  { fn: "screening.getEntity", valid: () => ({ entityId }), call: (i) => s.getEntity(t.db, ctx, i.entityId as string), fields: { entityId: uuid } },
  { fn: "screening.softDeleteEntityById", valid: () => ({ entityId: crypto.randomUUID() }), call: (i) => s.softDeleteEntityById(t.db, ctx, i.entityId as string), fields: { entityId: uuid } },
  { fn: "screening.eraseEntity", valid: () => ({ entityId: crypto.randomUUID() }), call: (i) => s.eraseEntity(t.db, ctx, i.entityId as string), fields: { entityId: uuid } },
  { fn: "screening.linkEntities", valid: () => ({ fromEntityId: entityId, toEntityId: crypto.randomUUID(), relationType: "employer", confidenceScore: 0.5 }), call: (i) => s.linkEntities(t.db, ctx, I(i)), fields: { fromEntityId: uuid, toEntityId: uuid, relationType: { k: "text", min: 1, max: 100 }, confidenceScore: { k: "number", min: 0, max: 1 } } },
  { fn: "screening.neighbours", valid: () => ({ entityId }), call: (i) => s.neighbours(t.db, ctx, i.entityId as string), fields: { entityId: uuid } },
  { fn: "screening.connections", valid: () => ({ entityId, maxDepth: 2 }), call: (i) => s.connections(t.db, ctx, i.entityId as string, i.maxDepth as number), fields: { entityId: uuid, maxDepth: { k: "number", min: 1, max: 6, int: true } } },
  { fn: "screening.createProfileVersion", valid: () => ({ entityId, triggerType: "manual", findings: [], riskScore: {} }), call: (i) => s.createProfileVersion(t.db, ctx, I(i)), fields: { entityId: uuid, triggerType: { k: "enum", values: ["screening", "monitoring", "manual"] }, findings: { k: "array" }, riskScore: { k: "record" } } },
  { fn: "screening.latestProfileOf", valid: () => ({ entityId }), call: (i) => s.latestProfileOf(t.db, ctx, i.entityId as string), fields: { entityId: uuid } },
  { fn: "screening.profileVersion", valid: () => ({ entityId, version: 1 }), call: (i) => s.profileVersion(t.db, ctx, i.entityId as string, i.version as number), fields: { entityId: uuid, version: { k: "number", min: 1, max: 2 ** 31, int: true } } },
  { fn: "screening.profileHistoryOf", valid: () => ({ entityId, limit: 10 }), call: (i) => s.profileHistoryOf(t.db, ctx, i.entityId as string, i.limit as number), fields: { entityId: uuid, limit: { k: "number", min: 1, max: 1000, int: true } } },
  { fn: "screening.storeProviderResponse", valid: cacheInput, call: (i) => s.storeProviderResponse(t.db, ctx, I(i)), fields: { entityId: uuid, providerId: { k: "text", min: 1, max: 100 }, checkType: { k: "text", min: 1, max: 100 }, dataOrigin: { k: "enum", values: ["paid_external", "customer_provided"] }, acquiredAt: { k: "date" }, rawResponse: { k: "text", max: 10_000_000 }, normalizedData: { k: "record" }, cost: { k: "number", min: 0, max: 99_999_999.99 }, currency: { k: "enum", values: ["USD"] } } },
  { fn: "screening.lookupCache", valid: () => ({ entityId, checkType: "credit" }), call: (i) => s.lookupCache(t.db, ctx, i.entityId as string, i.checkType as string), fields: { entityId: uuid, checkType: { k: "text", min: 1, max: 100 } } },
  { fn: "screening.costTotals", valid: range, call: (i) => s.costTotals(t.db, ctx, I(i)), fields: { from: { k: "date" }, to: { k: "date" } } },
  { fn: "screening.listAuditEvents", valid: () => ({ ...range(), limit: 10 }), call: (i) => s.listAuditEvents(t.db, ctx, I(i)), fields: { from: { k: "date" }, to: { k: "date" }, limit: { k: "number", min: 1, max: 10_000, int: true } } },
  { fn: "screening.recordAuditEvent", valid: () => ({ eventType: "data_accessed", details: {} }), call: (i) => s.recordAuditEvent(t.db, ctx, I(i)), fields: { eventType: { k: "enum", values: ["screening_initiated", "screening_completed", "data_accessed"] }, details: { k: "record" } } },
  // wills
  { fn: "wills.willsContext", valid: () => ({ actorId: null, actorType: "system", correlationId: crypto.randomUUID() }), call: async (i) => w.willsContext(I(i)), fields: { actorType: { k: "enum", values: ["data_subject", "staff", "system"] }, correlationId: uuid, userAgent: { k: "text", max: 1024 } } },
  { fn: "wills.grantConsent", valid: () => ({ dataSubjectId: crypto.randomUUID(), categories: { will_drafting: true }, privacyPolicyVersion: "1", consentTextVersion: "1", channel: "web" }), call: (i) => w.grantConsent(t.db, wctx, I(i)), fields: { dataSubjectId: uuid, categories: { k: "record" }, privacyPolicyVersion: { k: "text", min: 1, max: 32 }, consentTextVersion: { k: "text", min: 1, max: 32 }, channel: { k: "enum", values: ["web", "mobile", "email", "phone", "in_person", "api"] }, ipAddress: { k: "text", max: 45 }, userAgent: { k: "text", max: 1024 } } },
  { fn: "wills.withdrawConsent", valid: () => ({ dataSubjectId: crypto.randomUUID(), id: crypto.randomUUID() }), call: (i) => w.withdrawConsent(t.db, wctx, i.dataSubjectId as string, i.id as string), fields: { dataSubjectId: uuid, id: uuid } },
  { fn: "wills.currentConsent", valid: () => ({ dataSubjectId: crypto.randomUUID() }), call: (i) => w.currentConsent(t.db, i.dataSubjectId as string), fields: { dataSubjectId: uuid } },
  { fn: "wills.consentHistoryOf", valid: () => ({ dataSubjectId: crypto.randomUUID() }), call: (i) => w.consentHistoryOf(t.db, i.dataSubjectId as string), fields: { dataSubjectId: uuid } },
  { fn: "wills.hasConsent", valid: () => ({ dataSubjectId: crypto.randomUUID(), category: "will_drafting", privacyPolicyVersion: "1" }), call: (i) => w.hasConsent(t.db, i.dataSubjectId as string, i.category as string, i.privacyPolicyVersion as string), fields: { dataSubjectId: uuid, category: { k: "text", min: 1, max: 64 }, privacyPolicyVersion: { k: "text", min: 1, max: 32 } } },
  { fn: "wills.createClause", valid: () => ({ code: "bad_input_clause", title: "t", body: "b", category: "general", willTypes: ["single"] }), call: (i) => w.createClause(t.db, wctx, I(i)), fields: { code: { k: "text", min: 2, max: 64 }, title: { k: "text", min: 1, max: 200 }, body: { k: "text", min: 1, max: 50_000 }, category: { k: "enum", values: w.CLAUSE_CATEGORIES }, willTypes: { k: "array" }, variablesSchema: { k: "record" } } },
  { fn: "wills.publishRevision", valid: () => ({ code: "bad_input_clause", basedOnVersion: 1, body: "b2" }), call: (i) => w.publishRevision(t.db, wctx, I(i)), fields: { code: { k: "text", min: 2, max: 64 }, basedOnVersion: { k: "number", min: 1, max: 2 ** 31, int: true }, body: { k: "text", min: 1, max: 50_000 } } },
  { fn: "wills.currentClause", valid: () => ({ code: "bad_input_clause" }), call: (i) => w.currentClause(t.db, i.code as string), fields: { code: { k: "text", min: 2, max: 64 } } },
  { fn: "wills.listCurrentClauses", valid: () => ({ category: "general" }), call: (i) => w.listCurrentClauses(t.db, I(i)), fields: { category: { k: "enum", values: w.CLAUSE_CATEGORIES }, willType: { k: "enum", values: w.WILL_TYPES } } },
  { fn: "wills.clauseHistoryOf", valid: () => ({ code: "bad_input_clause" }), call: (i) => w.clauseHistoryOf(t.db, i.code as string), fields: { code: { k: "text", min: 2, max: 64 } } },
  { fn: "wills.recordAuditEvent", valid: () => ({ action: "will.viewed", resourceType: "will" }), call: (i) => w.recordAuditEvent(t.db, wctx, I(i)), fields: { action: { k: "text", min: 3, max: 200 }, resourceType: { k: "text", min: 1, max: 64 }, resourceId: uuid } },
  { fn: "wills.auditForSubject", valid: () => ({ dataSubjectId: crypto.randomUUID(), ...range() }), call: (i) => w.auditForSubject(t.db, i.dataSubjectId as string, I(i)), fields: { dataSubjectId: uuid, from: { k: "date" }, to: { k: "date" } } },
  { fn: "wills.auditForResource", valid: () => ({ resourceType: "clause", resourceId: crypto.randomUUID(), ...range() }), call: (i) => w.auditForResource(t.db, i.resourceType as string, i.resourceId as string, I(i)), fields: { resourceType: { k: "text", min: 1, max: 64 }, resourceId: uuid, from: { k: "date" } } },
];

/** A checksum of every business table (audit tables are append-only and checked separately). */
async function checksum(): Promise<string> {
  const tables = [
    "screening.tenants", "screening.entities", "screening.entity_identifiers", "screening.entity_profiles", "screening.entity_relations",
    "screening.cached_data_sources", "wills.consent_records", "wills.clauses",
  ];
  const parts = await Promise.all(tables.map(async (tb) => (await t.db.pool.query(`SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h, count(*) AS n FROM ${tb} x`)).rows[0]));
  return tables.map((tb, i) => `${tb}:${parts[i].n}:${parts[i].h}`).join(" ");
}

const auditCounts = async () =>
  (await t.db.pool.query("SELECT (SELECT count(*) FROM screening.audit_events WHERE event_type <> 'error')::int AS s, (SELECT count(*) FROM wills.audit_logs)::int AS w")).rows[0];

beforeAll(async () => {
  const tenant = await s.createTenant(t.db, { slug: "bad-input", name: "Bad input" });
  ctx = s.requestContext({ tenantId: tenant.tenant_id, actorId: null, correlationId: crypto.randomUUID() });
  wctx = w.willsContext({ actorId: null, actorType: "system", correlationId: crypto.randomUUID() });
  entityId = (await s.createEntity(t.db, ctx, { entityType: "individual" })).entity_id;
  await w.createClause(t.db, wctx, { code: "bad_input_clause", title: "t", body: "b", category: "general", willTypes: ["single"] });
});

/** Fields that may be left out (optional, or a parameter with a default). */
const OPTIONAL = ["identifiers", "ipAddress", "userAgent", "variablesSchema", "category", "willType", "resourceId", "details", "monthsAhead", "ahead", "maxDepth", "limit", "currency"];

let tried = 0;
let notValidation = 0;
describe("bad-input matrix", () => {
  it.each(SPECS.map((sp) => [sp.fn, sp]))("%s", async (_name, spec) => {
    const before = await checksum();
    const auditsBefore = await auditCounts();
    const fields = Object.entries(spec.fields);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: fields.length - 1 }).chain((f) => fc.tuple(fc.constant(f), badValues((fields[f] as [string, Kind])[1]))), async ([f, bad]) => {
        const [field] = fields[f] as [string, Kind];
        const input = spec.valid();
        if (bad === MISSING) delete input[field];
        else input[field] = bad;
        // A missing optional field is not bad input: skip those draws.
        if (bad === MISSING && OPTIONAL.includes(field)) return;
        tried++;
        const err = await spec.call(input).then(
          () => new Error(`accepted ${field} = ${JSON.stringify(bad)}`),
          (e) => e,
        );
        if (!(err instanceof ValidationError)) notValidation++;
        expect(err, `${spec.fn} ${field} = ${String(JSON.stringify(bad)).slice(0, 60)}`).toBeInstanceOf(ValidationError);
        expect((err as ValidationError).fields.some((x) => x === field || x.startsWith(`${field}.`) || field.startsWith(x)), `${spec.fn}: ${field} not named in ${(err as ValidationError).fields}`).toBe(true);
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 25) },
    );
    expect(await checksum()).toBe(before);
    expect(await auditCounts()).toEqual(auditsBefore);
  });

  it("ran the matrix", () => {
    console.log(`[bad-input] ${SPECS.length} service functions, ${tried} bad inputs tried, ${notValidation} not rejected with a ValidationError`);
    expect(notValidation).toBe(0);
    expect(tried).toBeGreaterThan(SPECS.length * 15);
  });
});
