/**
 * Issue 7, item 1: the bad-input matrix. For every public service function, fast-check replaces one field
 * of a valid input with a bad value of its kind (wrong type, null, missing, empty or oversized string,
 * invalid enum or format, out-of-range number, malformed UUID or JSON shape, wrong-dimension or non-finite
 * embedding, NUL byte, unpaired surrogate = invalid UTF-8), also inside arrays and nested rows.
 * Also values of the right JavaScript type that PostgreSQL cannot store: Dates outside 0001..9999 (and year
 * 0), ISO date 0000-01-01, embedding components beyond float4, "JSON" holding a BigInt, NaN, a Map, a cycle,
 * a NUL 25 levels down or 40 levels of nesting, and strings within the character limit but over a byte limit.
 * Each call must fail with a ValidationError that names the field, never a raw driver error, and the
 * business tables must be byte-for-byte unchanged (checksum); the only rows added anywhere are
 * screening `error` audit events and workspace `failure` audit rows, written on purpose for every failed call.
 *
 * Workspace functions run as role `app` under row-level security, acting as a member of an organisation
 * made by test/support/workspace-fixtures.ts. The matrix once pinned 33 workspace defects as expected
 * failures; all are fixed and their inputs are part of the generators below.
 */
import crypto from "node:crypto";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import * as core from "../../src/core";
import { ValidationError } from "../../src/db/errors";
import { operations, platformContext, type RegisteredOperation } from "../../src/db/operation";
import * as s from "../../src/screening";
import * as w from "../../src/wills";
import * as ws from "../../src/workspace";
import { useTestDb } from "../support/db";
import { roundTripCounter } from "../support/round-trips";
import { makeWorkspaceWorld, tablesChecksum, type WorkspaceWorld, workspaceChecksum, workspaceCounts } from "../support/workspace-fixtures";
import { randomVector, rng } from "../workspace/fixtures";

const t = useTestDb();
let ctx: s.RequestContext;
let wctx: w.WillsContext;
let entityId: string;
let world: WorkspaceWorld;

type Kind =
  | { k: "uuid" }
  /** `bytes`: the limit is in UTF-8 bytes, so also try max/2 + 1 two-byte characters. */
  | { k: "text"; min?: number; max: number; trim?: boolean; bytes?: boolean }
  | { k: "enum"; values: readonly string[] }
  | { k: "number"; min: number; max: number; int?: boolean }
  /** `also`: dates that are storable but wrong for this field (e.g. in the past). */
  | { k: "date"; also?: readonly Date[] }
  | { k: "record" }
  | { k: "array" }
  | { k: "bool" }
  /** A string that must match a format (regex, email, URL, ISO date/time, IP): `bad` are strings that do not. */
  | { k: "format"; bad: readonly string[] }
  /** An array of `of`: bad as a whole (wrong type, too long, too short) or with one bad element. */
  | { k: "list"; of: Kind; item: () => unknown; min?: number; max: number }
  /** A 1536-dimension embedding (array of finite numbers). */
  | { k: "embedding" };

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MISSING = Symbol("missing");
const common = [MISSING, null, "\u0000", "a\uD800b", { nested: "\u0000" }];

/** Values of the right JavaScript type that PostgreSQL cannot store (or that would not survive JSON). */
const farPast = new Date(-8.64e15); // the earliest JS Date, 271822 BC: before PostgreSQL's 4713 BC
const farFuture = new Date(8.64e15); // the latest JS Date, 275760 AD: JSON.stringify writes +275760-..., which PostgreSQL refuses
const yearZero = new Date("0000-06-01T00:00:00Z"); // PostgreSQL has no year 0
const nested = (depth: number, leaf: unknown): Record<string, unknown> => (depth === 0 ? { v: leaf } : { d: nested(depth - 1, leaf) });
const cyclic = () => {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
};
/** JSON documents that are not: BigInt (JSON.stringify throws), NaN and Map (silently lost), a cycle, NUL 25 levels down, 40 levels deep. */
const badJson = () => [{ n: 1n }, { x: Number.NaN }, { m: new Map([["a", 1]]) }, cyclic(), nested(25, "\u0000"), nested(40, 1)];

function badValues(kind: Kind): fc.Arbitrary<unknown> {
  switch (kind.k) {
    case "uuid":
      return fc.oneof(
        fc.constantFrom(...common, "", "not-a-uuid", "00000000-0000-0000-0000-00000000000g", 42, true, [], {}),
        fc.string().filter((x) => !UUID_RE.test(x)),
      );
    case "text":
      return fc.constantFrom(
        ...common,
        42,
        true,
        [],
        {},
        "x".repeat(kind.max + 1),
        ...(kind.min ? ["", "x".repeat(kind.min - 1)] : []),
        ...(kind.min && kind.trim ? [" ".repeat(kind.min + 2)] : []),
        `ok\u0000${"x"}`,
        `ok\uDC00`,
        ...(kind.bytes ? ["é".repeat(Math.floor(kind.max / 2) + 1)] : []),
      );
    case "enum":
      return fc.oneof(
        fc.constantFrom(...common, 5, "", [], {}),
        fc.string().filter((x) => !kind.values.includes(x)),
      );
    case "number":
      return fc.constantFrom(
        ...common,
        "1",
        Number.NaN,
        Number.POSITIVE_INFINITY,
        Number.NEGATIVE_INFINITY,
        kind.min - 1,
        kind.max + 1,
        kind.max + 0.5,
        ...(kind.int ? [kind.min + 0.5] : []),
      );
    case "date":
      return fc.constantFrom(...common, "2020-01-01", new Date("invalid"), 0, farPast, farFuture, yearZero, ...(kind.also ?? []));
    case "record":
      return fc.constantFrom(...common, "x", [1], 5, true, ...badJson());
    case "array":
      return fc.constantFrom(...common, "x", { a: 1 }, 5, [1n], [{ x: Number.POSITIVE_INFINITY }], [nested(40, 1)]);
    case "bool":
      return fc.constantFrom(...common, "true", 1, 0, [], {});
    case "format":
      return fc.constantFrom(...common, 42, true, [], {}, ...kind.bad);
    case "list": {
      const { of, item, min, max } = kind;
      return fc.oneof(
        fc.constantFrom(...common, "x", { 0: item() }, 5, ...(min ? [[]] : [])),
        fc.constant(null).map(() => Array.from({ length: max + 1 }, item)),
        badValues(of)
          .filter((v) => v !== MISSING && v !== undefined)
          .chain((v) => fc.nat({ max: 2 }).map((at) => [...Array.from({ length: at }, item), v])),
      );
    }
    case "embedding": {
      const v = randomVector(rng(1));
      const at = (i: number, x: unknown) => v.map((y, j) => (j === i ? x : y));
      return fc.constantFrom(
        ...common,
        "x",
        5,
        {},
        [],
        v.slice(1),
        [...v, 0.5],
        at(7, Number.NaN),
        at(0, Number.POSITIVE_INFINITY),
        at(1535, Number.NEGATIVE_INFINITY),
        at(3, "0.5"),
        at(4, null),
        [v],
        at(5, 1e39),
        at(6, -3.5e38),
      );
    }
  }
}

type AnyOperation = RegisteredOperation;

/** A registered operation (called with the context its declaration needs), or a context constructor (`fn` + `call`). */
interface Spec {
  op?: AnyOperation;
  fn?: string;
  call?: (input: Record<string, unknown>) => Promise<unknown>;
  /** A context other than the domain's default for this operation. */
  ctx?: () => unknown;
  valid: () => Record<string, unknown>;
  /** Field (a dotted path into the input, e.g. rows.0.subject) -> the kind of value it takes. */
  fields: Record<string, Kind>;
  /** Fields that may be left out (besides the names in OPTIONAL). */
  optional?: readonly string[];
  /** Fields for which null is a valid value. */
  nullable?: readonly string[];
}

const uuid = { k: "uuid" } as const;
const day = 86_400_000;
const range = () => ({ from: new Date(Date.now() - day), to: new Date(Date.now() + day) });
const cacheInput = () => ({
  entityId,
  providerId: "p",
  checkType: "credit",
  dataOrigin: "paid_external",
  acquiredAt: new Date(Date.now() - 1000),
  freshUntil: new Date(Date.now() + 1000),
  staleUntil: new Date(Date.now() + 2000),
  rawResponse: "{}",
  normalizedData: {},
  cost: 1,
  currency: "USD",
});
const I = (x: Record<string, unknown>) => x as never;

const SPECS: Spec[] = [
  // core
  { op: core.ensureAllPartitions, valid: () => ({ monthsAhead: 3 }), fields: { monthsAhead: { k: "number", min: 0, max: 120, int: true } } },
  {
    op: core.ensurePartitions,
    valid: () => ({ parent: "wills.audit_logs", monthsAhead: 3 }),
    fields: { parent: { k: "text", max: 130 }, monthsAhead: { k: "number", min: 0, max: 120, int: true } },
  },
  { op: core.reportPartitions, valid: () => ({}), fields: {} },
  // screening
  {
    fn: "screening.requestContext",
    valid: () => ({ tenantId: crypto.randomUUID(), actorId: null, correlationId: crypto.randomUUID() }),
    call: async (i) => s.requestContext(I(i)),
    fields: { tenantId: uuid, correlationId: uuid },
  },
  {
    op: s.createTenant,
    valid: () => ({ slug: "ok-slug", name: "Name" }),
    fields: { slug: { k: "text", min: 1, max: 63 }, name: { k: "text", min: 1, max: 200 } },
  },
  { op: s.tenantBySlug, valid: () => ({ slug: "bad-input" }), fields: { slug: { k: "text", min: 1, max: 63 } } },
  { op: s.deactivateTenant, valid: () => ({ tenantId: crypto.randomUUID() }), fields: { tenantId: uuid } },
  {
    op: s.updateTenant,
    valid: () => ({ tenantId: crypto.randomUUID(), name: "Renamed", isActive: true }),
    fields: { tenantId: uuid, name: { k: "text", min: 1, max: 200, trim: true }, isActive: { k: "bool" } },
    optional: ["name", "isActive"],
  },
  { op: s.renameTenant, valid: () => ({ name: "Renamed" }), fields: { name: { k: "text", min: 1, max: 200, trim: true } } },
  {
    op: s.createEntity,
    valid: () => ({ entityType: "individual", identifiers: { passport: "X1" } }),
    fields: { entityType: { k: "enum", values: ["individual", "organization", "address"] }, identifiers: { k: "record" } },
  },
  {
    op: s.findEntityByIdentifier,
    valid: () => ({ kind: "ssn", value: "123456789", includeDeleted: true }),
    fields: { kind: { k: "enum", values: s.IDENTIFIER_KINDS }, value: { k: "text", min: 1, max: 200 }, includeDeleted: { k: "bool" } },
    optional: ["includeDeleted"],
  },
  {
    op: s.getEntity,
    valid: () => ({ entityId, includeDeleted: true }),
    fields: { entityId: uuid, includeDeleted: { k: "bool" } },
    optional: ["includeDeleted"],
  },
  {
    op: s.bulkCreateEntities,
    valid: () => ({ entities: [{ entityType: "individual", identifiers: { passport: "B1" } }] }),
    fields: {
      entities: { k: "list", of: { k: "record" }, item: () => ({ entityType: "address" }), min: 1, max: 100_000 },
      "entities.0.entityType": { k: "enum", values: ["individual", "organization", "address"] },
      "entities.0.identifiers": { k: "record" },
    },
    optional: ["entities.0.identifiers"],
  },
  {
    op: s.importEntityRows,
    valid: () => ({ rows: [{ entityId: crypto.randomUUID(), entityType: "individual", canonicalIdentifiers: Buffer.from([1, 2, 3]) }] }),
    fields: {
      rows: {
        k: "list",
        of: { k: "record" },
        item: () => ({ entityId: crypto.randomUUID(), entityType: "address", canonicalIdentifiers: Buffer.alloc(1) }),
        min: 1,
        max: 100_000,
      },
      "rows.0.entityId": uuid,
      "rows.0.entityType": { k: "enum", values: ["individual", "organization", "address"] },
      "rows.0.canonicalIdentifiers": { k: "format", bad: ["\\x01", "AQID", Buffer.alloc(1_000_001) as never] },
    },
  },
  {
    op: s.updateEntity,
    valid: () => ({ entityId, identifiers: { passport: "U1", ssn: null } }),
    fields: {
      entityId: uuid,
      identifiers: { k: "record" },
      "identifiers.passport": { k: "text", min: 1, max: 200 },
      "identifiers.ssn": { k: "format", bad: ["12345", "1234567890", "abc-de-fghi"] },
    },
    nullable: ["identifiers.passport", "identifiers.ssn"],
    optional: ["identifiers.passport", "identifiers.ssn"],
  },
  { op: s.softDeleteEntity, valid: () => ({ entityId: crypto.randomUUID() }), fields: { entityId: uuid } },
  { op: s.eraseEntity, valid: () => ({ entityId: crypto.randomUUID() }), fields: { entityId: uuid } },
  { op: s.restoreEntity, valid: () => ({ entityId: crypto.randomUUID() }), fields: { entityId: uuid } },
  {
    op: s.linkEntities,
    valid: () => ({
      fromEntityId: entityId,
      toEntityId: crypto.randomUUID(),
      relationType: "employer",
      confidenceScore: 0.5,
      discoveredInScreening: crypto.randomUUID(),
    }),
    fields: {
      fromEntityId: uuid,
      toEntityId: uuid,
      relationType: { k: "text", min: 1, max: 100 },
      confidenceScore: { k: "number", min: 0, max: 1 },
      discoveredInScreening: uuid,
    },
    optional: ["discoveredInScreening"],
    nullable: ["discoveredInScreening"],
  },
  { op: s.neighbours, valid: () => ({ entityId }), fields: { entityId: uuid } },
  { op: s.connections, valid: () => ({ entityId, maxDepth: 2 }), fields: { entityId: uuid, maxDepth: { k: "number", min: 1, max: 6, int: true } } },
  {
    op: s.createProfileVersion,
    valid: () => ({
      entityId,
      triggerType: "manual",
      triggerId: crypto.randomUUID(),
      findings: [],
      riskScore: {},
      connections: [{ entity_id: entityId, relation_type: "employer" }],
      dataSourcesUsed: [],
      staleDataUsed: [],
      evolutionSignals: {},
    }),
    fields: {
      entityId: uuid,
      triggerType: { k: "enum", values: ["screening", "monitoring", "manual"] },
      triggerId: uuid,
      findings: { k: "array" },
      riskScore: { k: "record" },
      connections: { k: "array" },
      "connections.0.entity_id": uuid,
      "connections.0.relation_type": { k: "text", min: 1, max: 100 },
      dataSourcesUsed: { k: "array" },
      staleDataUsed: { k: "array" },
      evolutionSignals: { k: "record" },
    },
    optional: ["triggerId", "connections", "dataSourcesUsed", "staleDataUsed", "evolutionSignals"],
    nullable: ["triggerId"],
  },
  { op: s.latestProfile, valid: () => ({ entityId }), fields: { entityId: uuid } },
  { op: s.profileVersion, valid: () => ({ entityId, version: 1 }), fields: { entityId: uuid, version: { k: "number", min: 1, max: 2 ** 31, int: true } } },
  { op: s.profileHistory, valid: () => ({ entityId, limit: 10 }), fields: { entityId: uuid, limit: { k: "number", min: 1, max: 1000, int: true } } },
  {
    op: s.storeProviderResponse,
    valid: cacheInput,
    fields: {
      entityId: uuid,
      providerId: { k: "text", min: 1, max: 100 },
      checkType: { k: "text", min: 1, max: 100 },
      dataOrigin: { k: "enum", values: ["paid_external", "customer_provided"] },
      acquiredAt: { k: "date" },
      freshUntil: { k: "date" },
      staleUntil: { k: "date" },
      rawResponse: { k: "text", max: 10_000_000 },
      normalizedData: { k: "record" },
      cost: { k: "number", min: 0, max: 99_999_999.99 },
      currency: { k: "enum", values: ["USD"] },
    },
  },
  { op: s.lookupCache, valid: () => ({ entityId, checkType: "credit" }), fields: { entityId: uuid, checkType: { k: "text", min: 1, max: 100 } } },
  { op: s.bestCacheEntry, valid: () => ({ entityId, checkType: "credit" }), fields: { entityId: uuid, checkType: { k: "text", min: 1, max: 100 } } },
  {
    op: s.purgeExpiredCache,
    valid: () => ({ olderThanDays: 30 }),
    fields: { olderThanDays: { k: "number", min: 0, max: 36_500, int: true } },
    optional: ["olderThanDays"],
  },
  { op: s.costTotals, valid: range, fields: { from: { k: "date" }, to: { k: "date" } } },
  {
    op: s.listAuditEvents,
    valid: () => ({ ...range(), limit: 10 }),
    fields: { from: { k: "date" }, to: { k: "date" }, limit: { k: "number", min: 1, max: 10_000, int: true } },
  },
  {
    op: s.recordAuditEvent,
    valid: () => ({ eventType: "data_accessed", entityId, details: {}, sensitive: { k: 1 } }),
    fields: {
      eventType: { k: "enum", values: ["screening_initiated", "screening_completed", "data_accessed"] },
      entityId: uuid,
      details: { k: "record" },
      sensitive: { k: "record" },
    },
    optional: ["entityId", "sensitive"],
    nullable: ["entityId"],
  },
  { op: s.sweepFreshness, valid: () => ({}), fields: {} },
  {
    op: s.reencryptToActiveKey,
    valid: () => ({ batchSize: 10 }),
    fields: { batchSize: { k: "number", min: 1, max: 10_000, int: true } },
    optional: ["batchSize"],
  },
  // wills
  {
    fn: "wills.willsContext",
    valid: () => ({ actorId: null, actorType: "system", correlationId: crypto.randomUUID() }),
    call: async (i) => w.willsContext(I(i)),
    fields: { actorType: { k: "enum", values: ["data_subject", "staff", "system"] }, correlationId: uuid, userAgent: { k: "text", max: 1024 } },
  },
  {
    op: w.grantConsent,
    valid: () => ({
      dataSubjectId: crypto.randomUUID(),
      categories: { will_drafting: true },
      privacyPolicyVersion: "1",
      consentTextVersion: "1",
      channel: "web",
    }),
    fields: {
      dataSubjectId: uuid,
      categories: { k: "record" },
      privacyPolicyVersion: { k: "text", min: 1, max: 32 },
      consentTextVersion: { k: "text", min: 1, max: 32 },
      channel: { k: "enum", values: ["web", "mobile", "email", "phone", "in_person", "api"] },
      ipAddress: { k: "text", max: 45 },
      userAgent: { k: "text", max: 1024 },
    },
  },
  { op: w.withdrawConsent, valid: () => ({ dataSubjectId: crypto.randomUUID(), id: crypto.randomUUID() }), fields: { dataSubjectId: uuid, id: uuid } },
  { op: w.currentConsent, valid: () => ({ dataSubjectId: crypto.randomUUID() }), fields: { dataSubjectId: uuid } },
  { op: w.consentHistory, valid: () => ({ dataSubjectId: crypto.randomUUID() }), fields: { dataSubjectId: uuid } },
  {
    op: w.changeConsent,
    valid: () => ({
      dataSubjectId: crypto.randomUUID(),
      changes: { marketing: false },
      consentTextVersion: "v1",
      channel: "web",
      ipAddress: "10.0.0.1",
      userAgent: "ua",
    }),
    fields: {
      dataSubjectId: uuid,
      changes: { k: "record" },
      consentTextVersion: { k: "text", min: 1, max: 32 },
      channel: { k: "enum", values: ["web", "mobile", "email", "phone", "in_person", "api"] },
      ipAddress: { k: "text", max: 45 },
      userAgent: { k: "text", max: 1024 },
    },
  },
  {
    op: w.publishPolicyVersion,
    valid: () => ({ version: "bad-input-1", effectiveFrom: new Date(), summary: "s" }),
    fields: { version: { k: "text", min: 1, max: 32 }, effectiveFrom: { k: "date" }, summary: { k: "text", max: 10_000 } },
    optional: ["effectiveFrom", "summary"],
  },
  {
    op: w.hasConsent,
    valid: () => ({ dataSubjectId: crypto.randomUUID(), category: "will_drafting" }),
    fields: { dataSubjectId: uuid, category: { k: "text", min: 1, max: 64 } },
  },
  {
    op: w.createClause,
    valid: () => ({ code: "bad_input_clause", title: "t", body: "b", category: "general", willTypes: ["single"] }),
    fields: {
      code: { k: "text", min: 2, max: 64 },
      title: { k: "text", min: 1, max: 200 },
      body: { k: "text", min: 1, max: 50_000 },
      category: { k: "enum", values: w.CLAUSE_CATEGORIES },
      willTypes: { k: "array" },
      variablesSchema: { k: "record" },
    },
  },
  {
    op: w.publishRevision,
    valid: () => ({
      code: "bad_input_clause",
      basedOnVersion: 1,
      body: "b2",
      title: "t2",
      variablesSchema: { type: "object" },
      category: "general",
      willTypes: ["single"],
    }),
    fields: {
      code: { k: "text", min: 2, max: 64 },
      basedOnVersion: { k: "number", min: 1, max: 2 ** 31, int: true },
      body: { k: "text", min: 1, max: 50_000 },
      title: { k: "text", min: 1, max: 200 },
      variablesSchema: { k: "record" },
      category: { k: "enum", values: w.CLAUSE_CATEGORIES },
      willTypes: { k: "array" },
    },
    optional: ["title", "variablesSchema", "category", "willTypes"],
  },
  {
    op: w.retireClause,
    valid: () => ({ code: "bad_input_clause", basedOnVersion: 1 }),
    fields: { code: { k: "text", min: 2, max: 64 }, basedOnVersion: { k: "number", min: 1, max: 2 ** 31, int: true } },
  },
  { op: w.currentClause, valid: () => ({ code: "bad_input_clause" }), fields: { code: { k: "text", min: 2, max: 64 } } },
  {
    op: w.listCurrentClauses,
    valid: () => ({ category: "general" }),
    fields: { category: { k: "enum", values: w.CLAUSE_CATEGORIES }, willType: { k: "enum", values: w.WILL_TYPES } },
  },
  { op: w.clauseHistory, valid: () => ({ code: "bad_input_clause" }), fields: { code: { k: "text", min: 2, max: 64 } } },
  {
    op: w.recordAuditEvent,
    valid: () => ({ action: "will.viewed", resourceType: "will", resourceId: crypto.randomUUID(), dataSubjectId: crypto.randomUUID(), details: { k: 1 } }),
    fields: {
      action: { k: "text", min: 3, max: 200 },
      resourceType: { k: "text", min: 1, max: 64 },
      resourceId: uuid,
      dataSubjectId: uuid,
      details: { k: "record" },
    },
    optional: ["dataSubjectId"],
    nullable: ["resourceId", "dataSubjectId"],
  },
  {
    op: w.auditForSubject,
    valid: () => ({ dataSubjectId: crypto.randomUUID(), ...range(), limit: 10 }),
    fields: { dataSubjectId: uuid, from: { k: "date" }, to: { k: "date" }, limit: { k: "number", min: 1, max: 10_000, int: true } },
  },
  {
    op: w.auditForResource,
    valid: () => ({ resourceType: "clause", resourceId: crypto.randomUUID(), ...range(), limit: 10 }),
    fields: {
      resourceType: { k: "text", min: 1, max: 64 },
      resourceId: uuid,
      from: { k: "date" },
      to: { k: "date" },
      limit: { k: "number", min: 1, max: 10_000, int: true },
    },
  },
];

// workspace: every exported function that takes input (the context itself through workspaceContext). All
// run as `app` under RLS, acting as world.userId (createUser: the organisation itself).
const WORD = { k: "format", bad: ["Upper", "1abc", "has space", "a-b", "x".repeat(51), ""] } as const;
const DOTTED = { k: "format", bad: ["Task.due", "1x", "a b", ".x", "x".repeat(51), ""] } as const;
const EMAIL = { k: "format", bad: ["not-an-email", "a@", "@example.com", "a b@example.com", `${"x".repeat(250)}@example.com`, ""] } as const;
const URL_ = { k: "format", bad: ["not a url", "example", "http://", ""] } as const;
const ISO_DATE = {
  k: "format",
  bad: ["0000-01-01", "2024-02-30", "2023-02-29", "2024-13-01", "24-01-01", "2024/01/01", "2024-01-01T00:00:00Z", "tomorrow", ""],
} as const;
const ISO_TIME = { k: "format", bad: ["25:00", "12:60", "12:00:61", "noon", "1200", ""] } as const;
const IP = { k: "format", bad: ["999.1.1.1", "1.2.3", "localhost", "fe80::1%eth0", "::g", ""] } as const;
const PERMISSION = { k: "format", bad: ["tasks", "Tasks:read", "tasks:read:x", ":read", "tasks:", "tasks:re ad", "", "*", "tasks:*"] } as const;
/** What a role may carry: resource:action, resource:* or *. */
const ROLE_PERMISSION = { k: "format", bad: ["tasks", "Tasks:read", "tasks:read:x", ":read", "tasks:", "tasks:re ad", "", "**", "*:read", "* "] } as const;
const text = (max: number, min?: number, trim?: boolean): Kind => ({ k: "text", max, min, trim });
const list = (of: Kind, item: () => unknown, max: number, min?: number): Kind => ({ k: "list", of, item, max, min });
const num = (min: number, max: number, int = true): Kind => ({ k: "number", min, max, int });
const date = { k: "date" } as const;
const bool = { k: "bool" } as const;
const record = { k: "record" } as const;
const embedding = { k: "embedding" } as const;
const soon = () => new Date(Date.now() + day);
const uuids = (n: number) => list(uuid, () => crypto.randomUUID(), n);
const gmailRow = () => ({
  gmail_id: "g-1",
  thread_id: "t-1",
  subject: "s",
  from_email: "a@example.com",
  to_emails: ["b@example.com"],
  snippet: "sn",
  body_text: "body",
  labels: ["INBOX"],
  is_read: false,
  received_at: new Date(),
});
const calendarRow = () => ({
  provider_event_id: "e-1",
  calendar_id: "primary",
  title: "t",
  description: "d",
  location: "l",
  start_time: new Date(Date.now() - 1000),
  end_time: new Date(),
  is_all_day: false,
  timezone: "UTC",
  attendees: [{ email: "a@example.com" }],
  is_online_meeting: true,
  online_meeting_url: "https://meet.example.com/x",
  recurrence_rule: "FREQ=DAILY",
});
const driveRow = () => ({
  provider_file_id: "f-1",
  name: "n",
  mime_type: "text/plain",
  size_bytes: 10,
  web_url: "https://drive.example.com/f",
  parent_path: "/a",
  modified_at: new Date(),
});
const rowFields = (row: Record<string, Kind>) => Object.fromEntries(Object.entries(row).map(([k, v]) => [`rows.0.${k}`, v]));
/** An operation whose input is one field. */
const one = (op: AnyOperation, param: string, valid: () => unknown = () => crypto.randomUUID(), kind: Kind = uuid): Spec => ({
  op,
  valid: () => ({ [param]: valid() }),
  fields: { [param]: kind },
});

const WORKSPACE_SPECS: Spec[] = [
  // context, organisations, users, preferences, sessions
  {
    fn: "workspace.workspaceContext",
    valid: () => ({ organizationId: world.organizationId, userId: world.userId, sessionId: world.sessionId, ipAddress: "10.0.0.1", userAgent: "ua" }),
    call: async (i) => ws.workspaceContext(I(i)),
    fields: { organizationId: uuid, userId: uuid, sessionId: uuid, ipAddress: IP, userAgent: text(1024) },
    optional: ["sessionId"],
    nullable: ["userId"],
  },
  {
    op: ws.createOrganization,
    valid: () => ({ name: "Org", slug: "bad-input-org", planType: "pro", settings: { a: 1 }, owner: { email: "owner@bad-input.example", displayName: "O" } }),
    fields: {
      name: text(255, 1, true),
      slug: { k: "format", bad: ["Upper", "-lead", "trail-", "has space", "a_b", "x".repeat(101), ""] },
      planType: WORD,
      settings: record,
      "owner.email": EMAIL,
      "owner.displayName": text(255),
      "owner.timezone": text(50, 1),
    },
    optional: ["slug", "planType", "settings", "owner.displayName", "owner.timezone"],
  },
  {
    fn: "platformContext",
    valid: () => ({ actorId: crypto.randomUUID(), correlationId: crypto.randomUUID() }),
    call: async (i) => platformContext(I(i)),
    fields: { actorId: uuid, correlationId: uuid },
    optional: ["actorId", "correlationId"],
    nullable: ["actorId"],
  },
  {
    op: ws.createUser,
    valid: () => ({
      email: "new.user@example.com",
      passwordHash: "h",
      displayName: "d",
      firstName: "f",
      lastName: "l",
      avatarUrl: "https://example.com/a.png",
      timezone: "UTC",
    }),
    fields: {
      email: EMAIL,
      passwordHash: text(255, 1),
      displayName: text(255),
      firstName: text(100),
      lastName: text(100),
      avatarUrl: { k: "format", bad: [...URL_.bad, `https://example.com/${"x".repeat(500)}`] },
      timezone: text(50, 1),
    },
    optional: ["passwordHash", "displayName", "firstName", "lastName", "avatarUrl", "timezone"],
  },
  one(ws.findUserByEmail, "email", () => "nobody@example.com", EMAIL),
  one(ws.getUser, "userId", () => world.userId),
  one(ws.deleteUser, "userId"),
  { op: ws.getOrganization, valid: () => ({}), fields: {} },
  {
    op: ws.setOrganizationPlan,
    valid: () => ({ organizationId: crypto.randomUUID(), planType: "pro" }),
    fields: { organizationId: uuid, planType: WORD },
  },
  {
    op: ws.deleteOrganization,
    valid: () => ({ organizationId: crypto.randomUUID(), requestedBy: crypto.randomUUID() }),
    fields: { organizationId: uuid, requestedBy: uuid },
    optional: ["requestedBy"],
  },
  {
    op: ws.updateOrganization,
    valid: () => ({ name: "Renamed", settings: { a: 1 } }),
    fields: { name: text(255, 1, true), settings: record },
    optional: ["name", "settings"],
  },
  { op: ws.getPreferences, valid: () => ({}), fields: {} },
  { op: ws.activeDevices, valid: () => ({}), fields: {} },
  { op: ws.unreadCounts, valid: () => ({}), fields: {} },
  {
    op: ws.updatePreferences,
    valid: () => ({
      autoIncludeMemories: true,
      maxMemoriesPerRequest: 10,
      autoExtractFromChat: false,
      excludedMemoryTypes: ["secret"],
      emailNotifications: true,
      pushNotifications: false,
      theme: "dark",
      language: "pt-BR",
    }),
    fields: {
      autoIncludeMemories: bool,
      maxMemoriesPerRequest: num(0, 100),
      autoExtractFromChat: bool,
      excludedMemoryTypes: list(WORD, () => "secret", 50),
      emailNotifications: bool,
      pushNotifications: bool,
      theme: { k: "enum", values: ["light", "dark", "system"] },
      language: { k: "format", bad: ["english", "EN", "e", "en_US", "en-", ""] },
    },
    optional: [
      "autoIncludeMemories",
      "maxMemoriesPerRequest",
      "autoExtractFromChat",
      "excludedMemoryTypes",
      "emailNotifications",
      "pushNotifications",
      "theme",
      "language",
    ],
  },
  {
    op: ws.createSession,
    valid: () => ({ ttlSeconds: 3600, withRefreshToken: true }),
    fields: { ttlSeconds: num(60, 90 * 86_400), withRefreshToken: bool },
    optional: ["ttlSeconds", "withRefreshToken"],
  },
  { op: ws.resolveSession, valid: () => ({ token: world.sessionToken }), fields: { token: text(200, 20) } },
  {
    op: ws.refreshSession,
    valid: () => ({ refreshToken: "x".repeat(43), ttlSeconds: 3600 }),
    fields: { refreshToken: text(200, 20), ttlSeconds: num(60, 90 * 86_400) },
    optional: ["ttlSeconds"],
  },
  { op: ws.purgeExpiredSessions, valid: () => ({ before: new Date() }), fields: { before: date }, optional: ["before"] },
  one(ws.endSession, "sessionId"),
  // memories
  {
    op: ws.createMemory,
    valid: () => ({
      content: "c",
      title: "t",
      memoryType: "note",
      source: "chat",
      sourceId: "s",
      tags: ["a"],
      metadata: { k: "v" },
      conversationId: world.conversationId,
    }),
    fields: {
      content: text(50_000, 1),
      title: text(500),
      memoryType: WORD,
      source: WORD,
      sourceId: text(255),
      tags: list(text(100, 1), () => "tag", 100),
      metadata: record,
      conversationId: uuid,
    },
    optional: ["title", "memoryType", "source", "sourceId", "tags", "metadata", "conversationId"],
  },
  one(ws.getMemory, "id", () => world.memoryId),
  {
    op: ws.setEmbedding,
    valid: () => ({ id: world.memoryId, status: "completed", embedding: randomVector(rng(2)), model: "m" }),
    fields: { id: uuid, status: { k: "enum", values: ["completed", "pending", "processing", "failed"] }, embedding, model: text(100, 1) },
  },
  {
    op: ws.semanticSearchMemories,
    valid: () => ({ embedding: randomVector(rng(3)), k: 5, tags: ["fixture"], efSearch: 40, autoInclude: false }),
    fields: { embedding, k: num(1, 100), tags: list(text(100, 1), () => "fixture", 20), efSearch: num(1, 1000), autoInclude: bool },
    optional: ["k", "tags", "efSearch", "autoInclude"],
  },
  { op: ws.keywordSearchMemories, valid: () => ({ query: "fixture", limit: 5 }), fields: { query: text(1000, 1, true), limit: num(1, 200) } },
  one(ws.deleteMemory, "id"),
  {
    op: ws.editMemory,
    valid: () => ({ id: world.memoryId, content: "c", title: "t", tags: ["a"] }),
    fields: { id: uuid, content: text(50_000, 1), title: text(500), tags: list(text(100, 1), () => "tag", 100) },
    optional: ["content", "title", "tags"],
    nullable: ["title"],
  },
  {
    op: ws.recordMemoriesUsed,
    valid: () => ({ messageId: world.messageId, memories: [{ memoryId: world.memoryId, relevanceScore: 0.5 }] }),
    fields: {
      messageId: uuid,
      memories: list(record, () => ({ memoryId: crypto.randomUUID(), relevanceScore: 0.5 }), 100, 1),
      "memories.0.memoryId": uuid,
      "memories.0.relevanceScore": num(0, 1, false),
    },
    optional: ["memories.0.relevanceScore"],
  },
  one(ws.memoriesUsedBy, "messageId", () => world.messageId),
  // conversations and messages
  {
    op: ws.createConversation,
    valid: () => ({ type: "group", name: "g", description: "d", isPrivate: true, participantIds: [world.otherUserId] }),
    fields: {
      type: { k: "enum", values: ["direct", "group", "ai_chat"] },
      name: text(255, 1, true),
      description: text(10_000),
      isPrivate: bool,
      participantIds: uuids(1000),
    },
    optional: ["description", "isPrivate", "participantIds"],
  },
  {
    op: ws.addMembers,
    valid: () => ({ conversationId: world.conversationId, userIds: [world.otherUserId], role: "admin" }),
    fields: { conversationId: uuid, userIds: list(uuid, () => crypto.randomUUID(), 1000, 1), role: { k: "enum", values: ["admin", "member"] } },
    optional: ["role"],
  },
  one(ws.participantsOf, "conversationId", () => world.conversationId),
  {
    op: ws.sendMessage,
    valid: () => ({ conversationId: world.conversationId, content: "c", contentType: "text", aiModel: "m" }),
    fields: { conversationId: uuid, content: text(50_000, 1), contentType: { k: "enum", values: ["text", "file", "system", "ai"] }, aiModel: text(100, 1) },
    optional: ["contentType", "aiModel"],
  },
  {
    op: ws.messagesOf,
    valid: () => ({ conversationId: world.conversationId, before: new Date(), limit: 10 }),
    fields: { conversationId: uuid, before: date, limit: num(1, 500) },
    optional: ["before"],
  },
  {
    op: ws.markConversationRead,
    valid: () => ({ conversationId: world.conversationId, at: new Date() }),
    fields: { conversationId: uuid, at: date },
    optional: ["at"],
  },
  { op: ws.searchMessages, valid: () => ({ query: "fixture", limit: 5 }), fields: { query: text(1000, 1, true), limit: num(1, 200) } },
  { op: ws.editMessage, valid: () => ({ messageId: world.messageId, content: "c" }), fields: { messageId: uuid, content: text(50_000, 1) } },
  one(ws.deleteMessage, "messageId", () => world.messageId),
  {
    op: ws.setMessageStatus,
    valid: () => ({ messageId: world.messageId, status: "read" }),
    fields: { messageId: uuid, status: { k: "enum", values: ["delivered", "read"] } },
  },
  one(ws.leaveConversation, "conversationId", () => world.conversationId),
  // tasks
  {
    op: ws.createTask,
    valid: () => ({
      title: "t",
      description: "d",
      priority: "high",
      dueDate: "2026-12-01",
      dueTime: "09:30",
      reminderAt: soon(),
      source: "manual",
      sourceId: crypto.randomUUID(),
      sourceType: "email",
      projectId: crypto.randomUUID(),
      tags: ["a"],
      recurrenceRule: "FREQ=WEEKLY;BYDAY=MO",
    }),
    fields: {
      title: text(500, 1, true),
      description: text(50_000),
      priority: { k: "enum", values: ["low", "medium", "high", "urgent"] },
      dueDate: ISO_DATE,
      dueTime: ISO_TIME,
      reminderAt: date,
      source: { k: "enum", values: ["manual", "ai_created", "ai_extracted", "integration"] },
      sourceId: uuid,
      sourceType: WORD,
      projectId: uuid,
      tags: list(text(100, 1), () => "a", 100),
      recurrenceRule: { k: "format", bad: ["FREQ=", "every day", "RRULE:FREQ=daily", `FREQ=DAILY${";X=1".repeat(70)}`, ""] },
    },
    optional: ["description", "priority", "dueDate", "dueTime", "reminderAt", "source", "sourceId", "sourceType", "projectId", "tags", "recurrenceRule"],
  },
  {
    op: ws.changeTaskStatus,
    valid: () => ({ id: world.taskId, status: "in_progress" }),
    fields: { id: uuid, status: { k: "enum", values: ["todo", "in_progress", "done", "cancelled"] } },
  },
  {
    op: ws.editTask,
    valid: () => ({ id: world.taskId, title: "t", description: "d", dueDate: "2026-12-01", dueTime: "09:30", assigneeId: world.otherUserId }),
    fields: { id: uuid, title: text(500, 1, true), description: text(50_000), dueDate: ISO_DATE, dueTime: ISO_TIME, assigneeId: uuid },
    optional: ["title", "description", "dueDate", "dueTime", "assigneeId"],
    nullable: ["description", "dueDate"],
  },
  { op: ws.tasksDueSoon, valid: () => ({ days: 7, today: "2026-12-01" }), fields: { days: num(0, 366), today: ISO_DATE }, optional: ["days", "today"] },
  // integrations and synced rows
  {
    op: ws.connectIntegration,
    valid: () => ({
      provider: "microsoft",
      accessToken: "a",
      refreshToken: "r",
      tokenExpiresAt: soon(),
      scopes: ["mail.read"],
      providerUserId: "u",
      providerEmail: "u@example.com",
      metadata: { k: 1 },
    }),
    fields: {
      provider: { k: "enum", values: ["google", "microsoft", "slack", "notion"] },
      accessToken: text(8192, 1),
      refreshToken: text(8192, 1),
      tokenExpiresAt: date,
      scopes: list(text(500, 1), () => "s", 100),
      providerUserId: text(255),
      providerEmail: EMAIL,
      metadata: record,
    },
    optional: ["refreshToken", "tokenExpiresAt", "scopes", "providerUserId", "providerEmail", "metadata"],
  },
  one(ws.integrationTokens, "integrationId", () => world.integrationId),
  {
    op: ws.setIntegrationState,
    valid: () => ({ id: world.integrationId, status: "active" }),
    fields: { id: uuid, status: { k: "enum", values: ["pending", "active", "expired", "error", "disconnected"] } },
  },
  {
    op: ws.markIntegrationSynced,
    valid: () => ({ id: world.integrationId, syncCursor: "c" }),
    fields: { id: uuid, syncCursor: text(4096, 1) },
    nullable: ["syncCursor"],
  },
  {
    op: ws.syncGmailMessages,
    valid: () => ({ integrationId: world.integrationId, rows: [gmailRow()] }),
    fields: {
      integrationId: uuid,
      deleted: list(text(255, 1), () => "gone-1", 5000),
      rows: list(record, gmailRow, 5000),
      ...rowFields({
        gmail_id: text(255, 1),
        thread_id: text(255, 1),
        subject: text(10_000),
        from_email: text(255),
        to_emails: list(text(255), () => "b@example.com", 1000),
        snippet: text(10_000),
        body_text: text(1_000_000),
        labels: list(text(255, 1), () => "INBOX", 200),
        is_read: bool,
        received_at: date,
      }),
    },
    optional: [
      "deleted",
      ...["thread_id", "subject", "from_email", "to_emails", "snippet", "body_text", "labels", "is_read", "received_at"].map((f) => `rows.0.${f}`),
    ],
  },
  {
    op: ws.syncCalendarEvents,
    valid: () => ({ integrationId: world.integrationId, rows: [calendarRow()] }),
    fields: {
      integrationId: uuid,
      deleted: list(text(255, 1), () => "gone-1", 5000),
      rows: list(record, calendarRow, 5000),
      ...rowFields({
        provider_event_id: text(255, 1),
        calendar_id: text(255, 1),
        title: text(500),
        description: text(100_000),
        location: text(10_000),
        start_time: date,
        end_time: date,
        is_all_day: bool,
        timezone: text(50, 1),
        attendees: list(record, () => ({ email: "a@example.com" }), 1000),
        is_online_meeting: bool,
        online_meeting_url: URL_,
        recurrence_rule: text(255),
      }),
    },
    optional: [
      "deleted",
      ...[
        "calendar_id",
        "title",
        "description",
        "location",
        "is_all_day",
        "timezone",
        "attendees",
        "is_online_meeting",
        "online_meeting_url",
        "recurrence_rule",
      ].map((f) => `rows.0.${f}`),
    ],
  },
  {
    op: ws.syncDriveFiles,
    valid: () => ({ integrationId: world.integrationId, rows: [driveRow()] }),
    fields: {
      integrationId: uuid,
      deleted: list(text(255, 1), () => "gone-1", 5000),
      rows: list(record, driveRow, 5000),
      ...rowFields({
        provider_file_id: text(255, 1),
        name: text(500, 1),
        mime_type: text(255, 1),
        size_bytes: num(0, Number.MAX_SAFE_INTEGER),
        web_url: URL_,
        parent_path: text(10_000),
        modified_at: date,
      }),
    },
    optional: ["deleted", ...["mime_type", "size_bytes", "web_url", "parent_path", "modified_at"].map((f) => `rows.0.${f}`)],
  },
  { op: ws.searchMail, valid: () => ({ query: "fixture", limit: 5 }), fields: { query: text(1000, 1, true), limit: num(1, 200) } },
  { op: ws.calendarBetween, valid: range, fields: { from: date, to: date } },
  // knowledge graph
  {
    op: ws.observeEntity,
    valid: () => ({ entityType: "person", name: "n", aliases: ["a"], description: "d", metadata: { k: 1 } }),
    fields: { entityType: WORD, name: text(255, 1, true), aliases: list(text(255, 1), () => "a", 100), description: text(10_000), metadata: record },
    optional: ["aliases", "description", "metadata"],
  },
  {
    op: ws.relateEntities,
    valid: () => ({ sourceEntityId: world.entityId, targetEntityId: world.otherEntityId, relationshipType: "knows", strength: 0.5, context: "c" }),
    fields: { sourceEntityId: uuid, targetEntityId: uuid, relationshipType: WORD, strength: num(0, 1, false), context: text(10_000) },
    optional: ["strength", "context"],
  },
  {
    op: ws.recordMention,
    valid: () => ({ entityId: world.entityId, sourceType: "memory", sourceId: world.memoryId, context: "c", position: 3 }),
    fields: {
      entityId: uuid,
      sourceType: { k: "enum", values: ["memory", "message", "email", "file"] },
      sourceId: uuid,
      context: text(10_000),
      position: num(0, 2_147_483_647),
    },
    optional: ["context", "position"],
  },
  one(ws.entityNeighbours, "entityId", () => world.entityId),
  one(ws.mentionsOf, "entityId", () => world.entityId),
  // RBAC
  {
    op: ws.createRole,
    valid: () => ({ name: "r", description: "d", permissions: ["tasks:read", "memories:*"] }),
    fields: { name: text(100, 1, true), description: text(10_000), permissions: list(ROLE_PERMISSION, () => "tasks:read", 200) },
    optional: ["description"],
  },
  {
    op: ws.updateRole,
    valid: () => ({ roleId: world.roleId, name: "r2", description: "d", permissions: ["tasks:*"] }),
    fields: { roleId: uuid, name: text(100, 1, true), description: text(10_000), permissions: list(ROLE_PERMISSION, () => "tasks:read", 200) },
    optional: ["name", "description", "permissions"],
  },
  one(ws.deleteRole, "roleId"),
  { op: ws.listRoles, valid: () => ({}), fields: {} },
  one(ws.permissionsOf, "userId", () => world.userId),
  {
    op: ws.grantRole,
    valid: () => ({ userId: world.otherUserId, roleId: world.roleId, expiresAt: soon() }),
    fields: { userId: uuid, roleId: uuid, expiresAt: { k: "date", also: [new Date(0), new Date(Date.now() - 1000)] } },
    optional: ["expiresAt"],
  },
  { op: ws.revokeRole, valid: () => ({ userId: world.otherUserId, roleId: world.roleId }), fields: { userId: uuid, roleId: uuid } },
  { op: ws.hasPermission, valid: () => ({ userId: world.userId, permission: "tasks:read" }), fields: { userId: uuid, permission: PERMISSION } },
  one(ws.rolesOf, "userId", () => world.userId),
  // documents
  {
    op: ws.createTemplate,
    valid: () => ({ name: "n", documentType: "report", outline: ["Intro"], instructions: "i" }),
    fields: { name: text(255, 1, true), documentType: WORD, outline: list(text(1000, 1), () => "Intro", 200), instructions: text(50_000) },
    optional: ["outline", "instructions"],
  },
  { ...one(ws.listTemplates, "documentType", () => "report", WORD), optional: ["documentType"] },
  {
    op: ws.createDocument,
    valid: () => ({ documentType: "report", title: "t", content: "c", outline: ["Intro"], templateId: world.templateId, contextMemoryIds: [world.memoryId] }),
    fields: {
      documentType: WORD,
      title: text(500, 1, true),
      content: text(1_000_000),
      outline: list(text(1000, 1), () => "Intro", 200),
      templateId: uuid,
      contextMemoryIds: uuids(1000),
    },
    optional: ["content", "outline", "templateId", "contextMemoryIds"],
  },
  {
    op: ws.updateDocumentStatus,
    valid: () => ({ id: world.documentId, status: "generating", content: "c" }),
    fields: { id: uuid, status: { k: "enum", values: ["draft", "generating", "ready", "exported"] }, content: text(1_000_000) },
    optional: ["content"],
  },
  { ...one(ws.documentsOfUser, "limit", () => 10, num(1, 500)), optional: ["limit"] },
  // devices and notifications
  {
    op: ws.registerDevice,
    valid: () => ({ deviceToken: "tok", platform: "android", deviceName: "n" }),
    fields: { deviceToken: { k: "text", min: 1, max: 2048, bytes: true }, platform: { k: "enum", values: ["ios", "android", "web"] }, deviceName: text(255) },
    optional: ["deviceName"],
  },
  one(ws.deactivateDevice, "deviceId", () => world.deviceId),
  {
    op: ws.notify,
    valid: () => ({ userId: world.userId, type: "task.due", title: "t", body: "b", data: { k: 1 }, resourceType: "task", resourceId: world.taskId }),
    fields: { userId: uuid, type: DOTTED, title: text(255), body: text(10_000), data: record, resourceType: WORD, resourceId: uuid },
    optional: ["userId", "title", "body", "data", "resourceType"],
  },
  { ...one(ws.unreadNotifications, "limit", () => 10, num(1, 500)), optional: ["limit"] },
  {
    ...one(
      ws.markNotificationsRead,
      "ids",
      () => [world.notificationId],
      list(uuid, () => crypto.randomUUID(), 1000, 1),
    ),
  },
  // audit
  { op: ws.auditLog, valid: () => ({ ...range(), limit: 10 }), fields: { from: date, to: date, limit: num(1, 10_000) } },
];
SPECS.push(...WORKSPACE_SPECS);

/** A checksum of every business table (audit tables are append-only and checked separately). */
async function checksum(): Promise<string> {
  const tables = [
    "screening.tenants",
    "screening.entities",
    "screening.entity_identifiers",
    "screening.entity_profiles",
    "screening.entity_relations",
    "screening.cached_data_sources",
    "wills.consent_records",
    "wills.clauses",
  ];
  return `${await tablesChecksum(t.db, tables)} ${await workspaceChecksum(t.db)}`;
}

/** Audit rows other than those recording a failed call. */
const auditCounts = async () => ({
  ...(
    await t.db.pool.query(
      "SELECT (SELECT count(*) FROM screening.audit_events WHERE event_type <> 'error')::int AS s, (SELECT count(*) FROM wills.audit_logs WHERE action NOT LIKE '%.failed')::int AS w",
    )
  ).rows[0],
  workspace: (await workspaceCounts(t.db)).audit_success,
});

beforeAll(async () => {
  const tenant = await s.createTenant(t.db, platformContext(), { slug: "bad-input", name: "Bad input" });
  ctx = s.requestContext({ tenantId: tenant.tenant_id, actorId: null, correlationId: crypto.randomUUID() });
  wctx = w.willsContext({ actorId: null, actorType: "system", correlationId: crypto.randomUUID() });
  entityId = (await s.createEntity(t.db, ctx, { entityType: "individual" })).entity_id;
  await w.createClause(t.db, wctx, { code: "bad_input_clause", title: "t", body: "b", category: "general", willTypes: ["single"] });
  world = await makeWorkspaceWorld(t.db, "bad-input");
});

/** Fields that may be left out (optional, or a parameter with a default). */
const OPTIONAL = [
  "identifiers",
  "ipAddress",
  "userAgent",
  "variablesSchema",
  "category",
  "willType",
  "resourceId",
  "details",
  "monthsAhead",
  "maxDepth",
  "limit",
  "currency",
];

/** The context an operation is called with: what its declaration needs, in its domain. */
function contextFor(op: AnyOperation): unknown {
  if (op.declaration.context === "platform") return platformContext();
  return { screening: ctx, wills: wctx, workspace: world.ctx }[op.domain];
}

/** How a spec is called: its operation with its context, or a context constructor. */
const callOf = (spec: Spec) => (input: Record<string, unknown>) =>
  spec.op
    ? (spec.op as unknown as (db: unknown, ctx: unknown, input: unknown) => Promise<unknown>)(t.db, spec.ctx ? spec.ctx() : contextFor(spec.op), input)
    : (spec.call as NonNullable<Spec["call"]>)(input);
const nameOf = (spec: Spec) => spec.op?.declaration.name ?? (spec.fn as string);

/** The top-level keys of an input schema (objects, intersections and unions of objects). */
function inputKeys(schema: z.ZodType): string[] {
  const def = (
    schema as unknown as {
      _zod: { def: { type: string; shape?: Record<string, unknown>; left?: z.ZodType; right?: z.ZodType; options?: z.ZodType[]; in?: z.ZodType } };
    }
  )._zod.def;
  if (def.type === "object") return Object.keys(def.shape ?? {});
  if (def.type === "intersection") return [...inputKeys(def.left as z.ZodType), ...inputKeys(def.right as z.ZodType)];
  if (def.type === "union") return [...new Set((def.options ?? []).flatMap(inputKeys))];
  if (def.type === "pipe") return inputKeys(def.in as z.ZodType);
  return [];
}

describe("the bad-input matrix covers the operation registry", () => {
  it("every registered operation has input generators (adding an operation without them fails here)", () => {
    const covered = new Set(SPECS.flatMap((sp) => (sp.op ? [sp.op.declaration.name] : [])));
    expect(operations().length).toBeGreaterThan(80);
    expect(
      operations()
        .map((o) => o.declaration.name)
        .filter((n) => !covered.has(n)),
      "operations without a bad-input spec",
    ).toEqual([]);
  });

  it("every input field of every operation has a generator", () => {
    const missing = SPECS.flatMap((sp) => {
      if (!sp.op) return [];
      const fields = new Set(Object.keys(sp.fields).map((f) => f.split(".")[0]));
      return inputKeys(sp.op.declaration.input)
        .filter((k) => !fields.has(k))
        .map((k) => `${sp.op?.declaration.name}.${k}`);
    });
    expect(missing, "input fields no bad value is tried for").toEqual([]);
  });
});

/** Set (or, for MISSING, delete) the value at a dotted path such as rows.0.subject. */
function setPath(input: Record<string, unknown>, path: string, value: unknown) {
  const keys = path.split(".");
  const last = keys.pop() as string;
  const parent = keys.reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, input);
  if (value === MISSING) delete parent[last];
  else parent[last] = value;
}

const domainOf = (name: string) => name.split(".")[0] as string;
const tried: Record<string, number> = {};
let notValidation = 0;
describe("bad-input matrix", () => {
  it.each(SPECS.map((sp) => [nameOf(sp), sp] as const))("%s", async (name, spec) => {
    const call = callOf(spec);
    const before = await checksum();
    const auditsBefore = await auditCounts();
    const fields = Object.entries(spec.fields);
    if (!fields.length) {
      // No input fields: only the input as a whole can be bad (an operation without fields takes {} or nothing).
      for (const bad of [null, "x", 5, true, [], [1]]) {
        tried[domainOf(name)] = (tried[domainOf(name)] ?? 0) + 1;
        const err = await call(bad as never).then(
          () => new Error(`accepted input ${fc.stringify(bad)}`),
          (e) => e,
        );
        if (!(err instanceof ValidationError)) notValidation++;
        expect(err, `${name} input = ${fc.stringify(bad)}`).toBeInstanceOf(ValidationError);
        expect((err as ValidationError).fields, name).toEqual([name]);
      }
      expect(await checksum()).toBe(before);
      expect(await auditCounts()).toEqual(auditsBefore);
      return;
    }
    const badFor = ([field, kind]: [string, Kind]) => badValues(kind).filter((v) => !(v === null && spec.nullable?.includes(field)));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: fields.length - 1 }).chain((f) => fc.tuple(fc.constant(f), badFor(fields[f] as [string, Kind]))),
        async ([f, bad]) => {
          const [field] = fields[f] as [string, Kind];
          const input = spec.valid();
          setPath(input, field, bad);
          // A missing optional field is not bad input: skip those draws.
          if (bad === MISSING && (OPTIONAL.includes(field) || spec.optional?.includes(field))) return;
          tried[domainOf(name)] = (tried[domainOf(name)] ?? 0) + 1;
          const err = await call(input).then(
            () => new Error(`accepted ${field} = ${fc.stringify(bad)}`),
            (e) => e,
          );
          const shown = `${name} ${field} = ${fc.stringify(bad).slice(0, 60)}`; // fc.stringify: bad values include BigInt and cycles
          if (!(err instanceof ValidationError)) notValidation++;
          expect(err, shown).toBeInstanceOf(ValidationError);
          const named = (x: string) => x === field || x.startsWith(`${field}.`) || field.startsWith(x);
          expect((err as ValidationError).fields.some(named), `${shown}: ${field} not named in ${(err as ValidationError).fields}`).toBe(true);
        },
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 25) },
    );
    expect(await checksum()).toBe(before);
    expect(await auditCounts()).toEqual(auditsBefore);
  });

  it("ran the matrix", () => {
    const total = Object.values(tried).reduce((a, b) => a + b, 0);
    const perDomain = Object.entries(tried)
      .map(([d, n]) => `${d} ${SPECS.filter((sp) => domainOf(nameOf(sp)) === d).length} functions/${n} inputs`)
      .join(", ");
    console.log(
      `[bad-input] ${SPECS.length} service functions, ${total} bad inputs tried (${perDomain}), ${notValidation} not rejected with a ValidationError`,
    );
    expect(notValidation).toBe(0);
    expect(total).toBeGreaterThan(SPECS.length * 15);
  });
});

// The same valid inputs show what a call costs on the wire: the registry says which reads send one
// statement (`oneStatement`), and each of them is ONE round trip (BEGIN, context, statement, COMMIT
// pipelined), counted on the connection, not timed.
describe("round trips, from the registry", () => {
  it("every single-statement read of the registry costs one round trip", async () => {
    const counter = roundTripCounter(t.db.pool);
    try {
      const single = SPECS.filter((sp) => sp.op?.declaration.oneStatement);
      expect(single.length).toBeGreaterThan(20);
      const trips: Record<string, number | string> = {};
      for (const sp of single) {
        const call = () => callOf(sp)(sp.valid());
        const warm = await call().then(
          () => null,
          (e: unknown) => e,
        );
        trips[nameOf(sp)] = warm ? `failed: ${String(warm)}` : await counter.count(call);
      }
      expect(trips).toEqual(Object.fromEntries(single.map((sp) => [nameOf(sp), 1])));
    } finally {
      counter.stop();
    }
  });
});
