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
import { ensureAllPartitions, ensurePartitions } from "../../src/core/partitions";
import { ValidationError } from "../../src/db/errors";
import * as s from "../../src/screening";
import * as w from "../../src/wills";
import * as ws from "../../src/workspace";
import { useTestDb } from "../support/db";
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
      return fc.oneof(fc.constantFrom(...common, "", "not-a-uuid", "00000000-0000-0000-0000-00000000000g", 42, true, [], {}), fc.string().filter((x) => !UUID_RE.test(x)));
    case "text":
      return fc.constantFrom(
        ...common, 42, true, [], {}, "x".repeat(kind.max + 1), ...(kind.min ? ["", "x".repeat(kind.min - 1)] : []), ...(kind.min && kind.trim ? [" ".repeat(kind.min + 2)] : []),
        `ok\u0000${"x"}`, `ok\uDC00`, ...(kind.bytes ? ["é".repeat(Math.floor(kind.max / 2) + 1)] : []),
      );
    case "enum":
      return fc.oneof(fc.constantFrom(...common, 5, "", [], {}), fc.string().filter((x) => !kind.values.includes(x)));
    case "number":
      return fc.constantFrom(...common, "1", Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, kind.min - 1, kind.max + 1, kind.max + 0.5, ...(kind.int ? [kind.min + 0.5] : []));
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
      return fc.constantFrom(...common, "x", 5, {}, [], v.slice(1), [...v, 0.5], at(7, Number.NaN), at(0, Number.POSITIVE_INFINITY), at(1535, Number.NEGATIVE_INFINITY), at(3, "0.5"), at(4, null), [v], at(5, 1e39), at(6, -3.5e38));
    }
  }
}

interface Spec {
  fn: string;
  valid: () => Record<string, unknown>;
  call: (input: Record<string, unknown>) => Promise<unknown>;
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
  { fn: "screening.storeProviderResponse", valid: cacheInput, call: (i) => s.storeProviderResponse(t.db, ctx, I(i)), fields: { entityId: uuid, providerId: { k: "text", min: 1, max: 100 }, checkType: { k: "text", min: 1, max: 100 }, dataOrigin: { k: "enum", values: ["paid_external", "customer_provided"] }, acquiredAt: { k: "date" }, freshUntil: { k: "date" }, staleUntil: { k: "date" }, rawResponse: { k: "text", max: 10_000_000 }, normalizedData: { k: "record" }, cost: { k: "number", min: 0, max: 99_999_999.99 }, currency: { k: "enum", values: ["USD"] } } },
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
  { fn: "wills.recordAuditEvent", valid: () => ({ action: "will.viewed", resourceType: "will" }), call: (i) => w.recordAuditEvent(t.db, wctx, I(i)), fields: { action: { k: "text", min: 3, max: 200 }, resourceType: { k: "text", min: 1, max: 64 }, resourceId: uuid }, nullable: ["resourceId"] },
  { fn: "wills.auditForSubject", valid: () => ({ dataSubjectId: crypto.randomUUID(), ...range() }), call: (i) => w.auditForSubject(t.db, i.dataSubjectId as string, I(i)), fields: { dataSubjectId: uuid, from: { k: "date" }, to: { k: "date" } } },
  { fn: "wills.auditForResource", valid: () => ({ resourceType: "clause", resourceId: crypto.randomUUID(), ...range() }), call: (i) => w.auditForResource(t.db, i.resourceType as string, i.resourceId as string, I(i)), fields: { resourceType: { k: "text", min: 1, max: 64 }, resourceId: uuid, from: { k: "date" } } },
];

// workspace: every exported function that takes input (the context itself through workspaceContext). All
// run as `app` under RLS, acting as world.userId (createUser: the organisation itself).
const WORD = { k: "format", bad: ["Upper", "1abc", "has space", "a-b", "x".repeat(51), ""] } as const;
const DOTTED = { k: "format", bad: ["Task.due", "1x", "a b", ".x", "x".repeat(51), ""] } as const;
const EMAIL = { k: "format", bad: ["not-an-email", "a@", "@example.com", "a b@example.com", `${"x".repeat(250)}@example.com`, ""] } as const;
const URL_ = { k: "format", bad: ["not a url", "example", "http://", ""] } as const;
const ISO_DATE = { k: "format", bad: ["0000-01-01", "2024-02-30", "2023-02-29", "2024-13-01", "24-01-01", "2024/01/01", "2024-01-01T00:00:00Z", "tomorrow", ""] } as const;
const ISO_TIME = { k: "format", bad: ["25:00", "12:60", "12:00:61", "noon", "1200", ""] } as const;
const IP = { k: "format", bad: ["999.1.1.1", "1.2.3", "localhost", "fe80::1%eth0", "::g", ""] } as const;
const PERMISSION = { k: "format", bad: ["tasks", "Tasks:read", "tasks:read:x", ":read", "tasks:", "tasks:re ad", ""] } as const;
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
  gmail_id: "g-1", thread_id: "t-1", subject: "s", from_email: "a@example.com", to_emails: ["b@example.com"], snippet: "sn", body_text: "body",
  labels: ["INBOX"], is_read: false, received_at: new Date(),
});
const calendarRow = () => ({
  provider_event_id: "e-1", calendar_id: "primary", title: "t", description: "d", location: "l", start_time: new Date(Date.now() - 1000), end_time: new Date(),
  is_all_day: false, timezone: "UTC", attendees: [{ email: "a@example.com" }], is_online_meeting: true, online_meeting_url: "https://meet.example.com/x", recurrence_rule: "FREQ=DAILY",
});
const driveRow = () => ({ provider_file_id: "f-1", name: "n", mime_type: "text/plain", size_bytes: 10, web_url: "https://drive.example.com/f", parent_path: "/a", modified_at: new Date() });
const rowFields = (row: Record<string, Kind>) => Object.fromEntries(Object.entries(row).map(([k, v]) => [`rows.0.${k}`, v]));
const one = (fn: string, param: string, call: (c: ws.WorkspaceContext, v: never) => Promise<unknown>, valid: () => unknown = () => crypto.randomUUID(), kind: Kind = uuid): Spec => ({
  fn: `workspace.${fn}`, valid: () => ({ [param]: valid() }), call: (i) => call(world.ctx, i[param] as never), fields: { [param]: kind },
});

const WORKSPACE_SPECS: Spec[] = [
  // context, organisations, users, preferences, sessions
  { fn: "workspace.workspaceContext", valid: () => ({ organizationId: world.organizationId, userId: world.userId, sessionId: world.sessionId, ipAddress: "10.0.0.1", userAgent: "ua" }), call: async (i) => ws.workspaceContext(I(i)), fields: { organizationId: uuid, userId: uuid, sessionId: uuid, ipAddress: IP, userAgent: text(1024) }, optional: ["sessionId"], nullable: ["userId"] },
  {
    fn: "workspace.createOrganization", valid: () => ({ name: "Org", slug: "bad-input-org", planType: "pro", settings: { a: 1 }, actorId: crypto.randomUUID() }),
    call: ({ actorId, ...input }) => ws.createOrganization(t.db, I(input), actorId as never),
    fields: { name: text(255, 1, true), slug: { k: "format", bad: ["Upper", "-lead", "trail-", "has space", "a_b", "x".repeat(101), ""] }, planType: WORD, settings: record, actorId: uuid },
    optional: ["slug", "planType", "settings", "actorId"], nullable: ["actorId"],
  },
  {
    fn: "workspace.createUser", valid: () => ({ email: "new.user@example.com", passwordHash: "h", displayName: "d", firstName: "f", lastName: "l", avatarUrl: "https://example.com/a.png", timezone: "UTC" }),
    call: (i) => ws.createUser(t.db, world.system, I(i)),
    fields: { email: EMAIL, passwordHash: text(255, 1), displayName: text(255), firstName: text(100), lastName: text(100), avatarUrl: { k: "format", bad: [...URL_.bad, `https://example.com/${"x".repeat(500)}`] }, timezone: text(50, 1) },
    optional: ["passwordHash", "displayName", "firstName", "lastName", "avatarUrl", "timezone"],
  },
  one("findUserByEmail", "email", (c, v) => ws.findUserByEmail(t.db, c, v), () => "nobody@example.com", EMAIL),
  one("getUserById", "userId", (c, v) => ws.getUserById(t.db, c, v), () => world.userId),
  one("deleteUser", "userId", (c, v) => ws.deleteUser(t.db, c, v)),
  {
    fn: "workspace.updatePreferences",
    valid: () => ({ autoIncludeMemories: true, maxMemoriesPerRequest: 10, autoExtractFromChat: false, excludedMemoryTypes: ["secret"], emailNotifications: true, pushNotifications: false, theme: "dark", language: "pt-BR" }),
    call: (i) => ws.updatePreferences(t.db, world.ctx, I(i)),
    fields: {
      autoIncludeMemories: bool, maxMemoriesPerRequest: num(0, 100), autoExtractFromChat: bool, excludedMemoryTypes: list(WORD, () => "secret", 50), emailNotifications: bool, pushNotifications: bool,
      theme: { k: "enum", values: ["light", "dark", "system"] }, language: { k: "format", bad: ["english", "EN", "e", "en_US", "en-", ""] },
    },
    optional: ["autoIncludeMemories", "maxMemoriesPerRequest", "autoExtractFromChat", "excludedMemoryTypes", "emailNotifications", "pushNotifications", "theme", "language"],
  },
  { fn: "workspace.createSession", valid: () => ({ ttlSeconds: 3600, withRefreshToken: true }), call: (i) => ws.createSession(t.db, world.ctx, I(i)), fields: { ttlSeconds: num(60, 90 * 86_400), withRefreshToken: bool }, optional: ["ttlSeconds", "withRefreshToken"] },
  { fn: "workspace.resolveSession", valid: () => ({ token: "x".repeat(43) }), call: (i) => ws.resolveSession(t.db, i.token as string), fields: { token: text(200, 20) } },
  one("endSession", "sessionId", (c, v) => ws.endSession(t.db, c, v)),
  // memories
  {
    fn: "workspace.createMemory", valid: () => ({ content: "c", title: "t", memoryType: "note", source: "chat", sourceId: "s", tags: ["a"], metadata: { k: "v" }, conversationId: world.conversationId }),
    call: (i) => ws.createMemory(t.db, world.ctx, I(i)),
    fields: { content: text(50_000, 1), title: text(500), memoryType: WORD, source: WORD, sourceId: text(255), tags: list(text(100, 1), () => "tag", 100), metadata: record, conversationId: uuid },
    optional: ["title", "memoryType", "source", "sourceId", "tags", "metadata", "conversationId"],
  },
  one("getMemoryById", "id", (c, v) => ws.getMemoryById(t.db, c, v), () => world.memoryId),
  {
    fn: "workspace.setEmbedding", valid: () => ({ id: world.memoryId, status: "completed", embedding: randomVector(rng(2)), model: "m" }), call: (i) => ws.setEmbedding(t.db, world.ctx, I(i)),
    fields: { id: uuid, status: { k: "enum", values: ["completed", "pending", "processing", "failed"] }, embedding, model: text(100, 1) },
  },
  {
    fn: "workspace.semanticSearchMemories", valid: () => ({ embedding: randomVector(rng(3)), k: 5, tags: ["fixture"], efSearch: 40 }), call: (i) => ws.semanticSearchMemories(t.db, world.ctx, I(i)),
    fields: { embedding, k: num(1, 100), tags: list(text(100, 1), () => "fixture", 20), efSearch: num(1, 1000) }, optional: ["k", "tags", "efSearch"],
  },
  { fn: "workspace.keywordSearchMemories", valid: () => ({ query: "fixture", limit: 5 }), call: (i) => ws.keywordSearchMemories(t.db, world.ctx, I(i)), fields: { query: text(1000, 1, true), limit: num(1, 200) } },
  one("deleteMemory", "id", (c, v) => ws.deleteMemory(t.db, c, v)),
  {
    fn: "workspace.recordMemoriesUsed", valid: () => ({ messageId: world.messageId, memories: [{ memoryId: world.memoryId, relevanceScore: 0.5 }] }), call: (i) => ws.recordMemoriesUsed(t.db, world.ctx, I(i)),
    fields: { messageId: uuid, memories: list(record, () => ({ memoryId: crypto.randomUUID(), relevanceScore: 0.5 }), 100, 1), "memories.0.memoryId": uuid, "memories.0.relevanceScore": num(0, 1, false) },
    optional: ["memories.0.relevanceScore"],
  },
  one("memoriesUsedBy", "messageId", (c, v) => ws.memoriesUsedBy(t.db, c, v), () => world.messageId),
  // conversations and messages
  {
    fn: "workspace.createConversation", valid: () => ({ type: "group", name: "g", description: "d", isPrivate: true, participantIds: [world.otherUserId] }), call: (i) => ws.createConversation(t.db, world.ctx, I(i)),
    fields: { type: { k: "enum", values: ["direct", "group", "ai_chat"] }, name: text(255, 1, true), description: text(10_000), isPrivate: bool, participantIds: uuids(1000) }, optional: ["description", "isPrivate", "participantIds"],
  },
  {
    fn: "workspace.addMembers", valid: () => ({ conversationId: world.conversationId, userIds: [world.otherUserId], role: "admin" }), call: (i) => ws.addMembers(t.db, world.ctx, I(i)),
    fields: { conversationId: uuid, userIds: list(uuid, () => crypto.randomUUID(), 1000, 1), role: { k: "enum", values: ["admin", "member"] } }, optional: ["role"],
  },
  one("participantsOf", "conversationId", (c, v) => ws.participantsOf(t.db, c, v), () => world.conversationId),
  {
    fn: "workspace.sendMessage", valid: () => ({ conversationId: world.conversationId, content: "c", contentType: "text", aiModel: "m" }), call: (i) => ws.sendMessage(t.db, world.ctx, I(i)),
    fields: { conversationId: uuid, content: text(50_000, 1), contentType: { k: "enum", values: ["text", "file", "system", "ai"] }, aiModel: text(100, 1) }, optional: ["contentType", "aiModel"],
  },
  { fn: "workspace.messagesOf", valid: () => ({ conversationId: world.conversationId, before: new Date(), limit: 10 }), call: (i) => ws.messagesOf(t.db, world.ctx, I(i)), fields: { conversationId: uuid, before: date, limit: num(1, 500) }, optional: ["before"] },
  { fn: "workspace.markConversationRead", valid: () => ({ conversationId: world.conversationId, at: new Date() }), call: (i) => ws.markConversationRead(t.db, world.ctx, i.conversationId as string, i.at as Date), fields: { conversationId: uuid, at: date }, optional: ["at"] },
  { fn: "workspace.searchMessagesIn", valid: () => ({ query: "fixture", limit: 5 }), call: (i) => ws.searchMessagesIn(t.db, world.ctx, I(i)), fields: { query: text(1000, 1, true), limit: num(1, 200) } },
  // tasks
  {
    fn: "workspace.createTask",
    valid: () => ({
      title: "t", description: "d", priority: "high", dueDate: "2026-12-01", dueTime: "09:30", reminderAt: soon(), source: "manual", sourceId: crypto.randomUUID(), sourceType: "email",
      projectId: crypto.randomUUID(), tags: ["a"], recurrenceRule: "FREQ=WEEKLY;BYDAY=MO",
    }),
    call: (i) => ws.createTask(t.db, world.ctx, I(i)),
    fields: {
      title: text(500, 1, true), description: text(50_000), priority: { k: "enum", values: ["low", "medium", "high", "urgent"] }, dueDate: ISO_DATE, dueTime: ISO_TIME, reminderAt: date,
      source: { k: "enum", values: ["manual", "ai_created", "ai_extracted", "integration"] }, sourceId: uuid, sourceType: WORD, projectId: uuid, tags: list(text(100, 1), () => "a", 100),
      recurrenceRule: { k: "format", bad: ["FREQ=", "every day", "RRULE:FREQ=daily", `FREQ=DAILY${";X=1".repeat(70)}`, ""] },
    },
    optional: ["description", "priority", "dueDate", "dueTime", "reminderAt", "source", "sourceId", "sourceType", "projectId", "tags", "recurrenceRule"],
  },
  { fn: "workspace.changeTaskStatus", valid: () => ({ id: world.taskId, status: "in_progress" }), call: (i) => ws.changeTaskStatus(t.db, world.ctx, i.id as string, i.status as never), fields: { id: uuid, status: { k: "enum", values: ["todo", "in_progress", "done", "cancelled"] } } },
  { fn: "workspace.tasksDueSoonOf", valid: () => ({ days: 7, today: "2026-12-01" }), call: (i) => ws.tasksDueSoonOf(t.db, world.ctx, I(i)), fields: { days: num(0, 366), today: ISO_DATE }, optional: ["days", "today"] },
  // integrations and synced rows
  {
    fn: "workspace.connectIntegration",
    valid: () => ({ provider: "microsoft", accessToken: "a", refreshToken: "r", tokenExpiresAt: soon(), scopes: ["mail.read"], providerUserId: "u", providerEmail: "u@example.com", metadata: { k: 1 } }),
    call: (i) => ws.connectIntegration(t.db, world.ctx, I(i)),
    fields: {
      provider: { k: "enum", values: ["google", "microsoft", "slack", "notion"] }, accessToken: text(8192, 1), refreshToken: text(8192, 1), tokenExpiresAt: date, scopes: list(text(500, 1), () => "s", 100),
      providerUserId: text(255), providerEmail: EMAIL, metadata: record,
    },
    optional: ["refreshToken", "tokenExpiresAt", "scopes", "providerUserId", "providerEmail", "metadata"],
  },
  one("integrationTokens", "integrationId", (c, v) => ws.integrationTokens(t.db, c, v), () => world.integrationId),
  { fn: "workspace.setIntegrationState", valid: () => ({ id: world.integrationId, status: "active" }), call: (i) => ws.setIntegrationState(t.db, world.ctx, i.id as string, i.status as never), fields: { id: uuid, status: { k: "enum", values: ["pending", "active", "expired", "error", "disconnected"] } } },
  { fn: "workspace.markIntegrationSynced", valid: () => ({ id: world.integrationId, syncCursor: "c" }), call: (i) => ws.markIntegrationSynced(t.db, world.ctx, i.id as string, i.syncCursor as string), fields: { id: uuid, syncCursor: text(4096, 1) }, nullable: ["syncCursor"] },
  {
    fn: "workspace.syncGmailMessages", valid: () => ({ integrationId: world.integrationId, rows: [gmailRow()] }), call: (i) => ws.syncGmailMessages(t.db, world.ctx, i.integrationId as string, i.rows as never),
    fields: {
      integrationId: uuid, rows: list(record, gmailRow, 5000),
      ...rowFields({
        gmail_id: text(255, 1), thread_id: text(255, 1), subject: text(10_000), from_email: text(255), to_emails: list(text(255), () => "b@example.com", 1000), snippet: text(10_000),
        body_text: text(1_000_000), labels: list(text(255, 1), () => "INBOX", 200), is_read: bool, received_at: date,
      }),
    },
    optional: ["thread_id", "subject", "from_email", "to_emails", "snippet", "body_text", "labels", "is_read", "received_at"].map((f) => `rows.0.${f}`),
  },
  {
    fn: "workspace.syncCalendarEvents", valid: () => ({ integrationId: world.integrationId, rows: [calendarRow()] }), call: (i) => ws.syncCalendarEvents(t.db, world.ctx, i.integrationId as string, i.rows as never),
    fields: {
      integrationId: uuid, rows: list(record, calendarRow, 5000),
      ...rowFields({
        provider_event_id: text(255, 1), calendar_id: text(255, 1), title: text(500), description: text(100_000), location: text(10_000), start_time: date, end_time: date, is_all_day: bool,
        timezone: text(50, 1), attendees: list(record, () => ({ email: "a@example.com" }), 1000), is_online_meeting: bool, online_meeting_url: URL_, recurrence_rule: text(255),
      }),
    },
    optional: ["calendar_id", "title", "description", "location", "is_all_day", "timezone", "attendees", "is_online_meeting", "online_meeting_url", "recurrence_rule"].map((f) => `rows.0.${f}`),
  },
  {
    fn: "workspace.syncDriveFiles", valid: () => ({ integrationId: world.integrationId, rows: [driveRow()] }), call: (i) => ws.syncDriveFiles(t.db, world.ctx, i.integrationId as string, i.rows as never),
    fields: {
      integrationId: uuid, rows: list(record, driveRow, 5000),
      ...rowFields({ provider_file_id: text(255, 1), name: text(500, 1), mime_type: text(255, 1), size_bytes: num(0, Number.MAX_SAFE_INTEGER), web_url: URL_, parent_path: text(10_000), modified_at: date }),
    },
    optional: ["mime_type", "size_bytes", "web_url", "parent_path", "modified_at"].map((f) => `rows.0.${f}`),
  },
  { fn: "workspace.searchMail", valid: () => ({ query: "fixture", limit: 5 }), call: (i) => ws.searchMail(t.db, world.ctx, I(i)), fields: { query: text(1000, 1, true), limit: num(1, 200) } },
  { fn: "workspace.calendarBetween", valid: range, call: (i) => ws.calendarBetween(t.db, world.ctx, I(i)), fields: { from: date, to: date } },
  // knowledge graph
  {
    fn: "workspace.observeEntity", valid: () => ({ entityType: "person", name: "n", aliases: ["a"], description: "d", metadata: { k: 1 } }), call: (i) => ws.observeEntity(t.db, world.ctx, I(i)),
    fields: { entityType: WORD, name: text(255, 1, true), aliases: list(text(255, 1), () => "a", 100), description: text(10_000), metadata: record }, optional: ["aliases", "description", "metadata"],
  },
  {
    fn: "workspace.relateEntities", valid: () => ({ sourceEntityId: world.entityId, targetEntityId: world.otherEntityId, relationshipType: "knows", strength: 0.5, context: "c" }), call: (i) => ws.relateEntities(t.db, world.ctx, I(i)),
    fields: { sourceEntityId: uuid, targetEntityId: uuid, relationshipType: WORD, strength: num(0, 1, false), context: text(10_000) }, optional: ["strength", "context"],
  },
  {
    fn: "workspace.recordMention", valid: () => ({ entityId: world.entityId, sourceType: "memory", sourceId: world.memoryId, context: "c", position: 3 }), call: (i) => ws.recordMention(t.db, world.ctx, I(i)),
    fields: { entityId: uuid, sourceType: { k: "enum", values: ["memory", "message", "email", "file"] }, sourceId: uuid, context: text(10_000), position: num(0, 2_147_483_647) }, optional: ["context", "position"],
  },
  one("neighboursOf", "entityId", (c, v) => ws.neighboursOf(t.db, c, v), () => world.entityId),
  one("mentionsOfEntity", "entityId", (c, v) => ws.mentionsOfEntity(t.db, c, v), () => world.entityId),
  // RBAC
  {
    fn: "workspace.createRole", valid: () => ({ name: "r", description: "d", permissions: ["tasks:read", "memories:*"] }), call: (i) => ws.createRole(t.db, world.ctx, I(i)),
    fields: { name: text(100, 1, true), description: text(10_000), permissions: list(PERMISSION, () => "tasks:read", 200) }, optional: ["description"],
  },
  { fn: "workspace.grantRole", valid: () => ({ userId: world.otherUserId, roleId: world.roleId, expiresAt: soon() }), call: (i) => ws.grantRole(t.db, world.ctx, I(i)), fields: { userId: uuid, roleId: uuid, expiresAt: { k: "date", also: [new Date(0), new Date(Date.now() - 1000)] } }, optional: ["expiresAt"] },
  { fn: "workspace.revokeRole", valid: () => ({ userId: world.otherUserId, roleId: world.roleId }), call: (i) => ws.revokeRole(t.db, world.ctx, I(i)), fields: { userId: uuid, roleId: uuid } },
  { fn: "workspace.hasPermission", valid: () => ({ userId: world.userId, permission: "tasks:read" }), call: (i) => ws.hasPermission(t.db, world.ctx, i.userId as string, i.permission as string), fields: { userId: uuid, permission: PERMISSION } },
  one("rolesOf", "userId", (c, v) => ws.rolesOf(t.db, c, v), () => world.userId),
  // documents
  {
    fn: "workspace.createTemplate", valid: () => ({ name: "n", documentType: "report", outline: ["Intro"], instructions: "i" }), call: (i) => ws.createTemplate(t.db, world.ctx, I(i)),
    fields: { name: text(255, 1, true), documentType: WORD, outline: list(text(1000, 1), () => "Intro", 200), instructions: text(50_000) }, optional: ["outline", "instructions"],
  },
  { ...one("templatesFor", "documentType", (c, v) => ws.templatesFor(t.db, c, v), () => "report", WORD), optional: ["documentType"] },
  {
    fn: "workspace.createDocument", valid: () => ({ documentType: "report", title: "t", content: "c", outline: ["Intro"], templateId: world.templateId, contextMemoryIds: [world.memoryId] }), call: (i) => ws.createDocument(t.db, world.ctx, I(i)),
    fields: { documentType: WORD, title: text(500, 1, true), content: text(1_000_000), outline: list(text(1000, 1), () => "Intro", 200), templateId: uuid, contextMemoryIds: uuids(1000) },
    optional: ["content", "outline", "templateId", "contextMemoryIds"],
  },
  {
    fn: "workspace.updateDocumentStatus", valid: () => ({ id: world.documentId, status: "generating", content: "c" }), call: (i) => ws.updateDocumentStatus(t.db, world.ctx, I(i)),
    fields: { id: uuid, status: { k: "enum", values: ["draft", "generating", "ready", "exported"] }, content: text(1_000_000) }, optional: ["content"],
  },
  { ...one("documentsOf", "limit", (c, v) => ws.documentsOf(t.db, c, v), () => 10, num(1, 500)), optional: ["limit"] },
  // devices and notifications
  {
    fn: "workspace.registerDevice", valid: () => ({ deviceToken: "tok", platform: "android", deviceName: "n" }), call: (i) => ws.registerDevice(t.db, world.ctx, I(i)),
    fields: { deviceToken: { k: "text", min: 1, max: 2048, bytes: true }, platform: { k: "enum", values: ["ios", "android", "web"] }, deviceName: text(255) }, optional: ["deviceName"],
  },
  one("deactivateDevice", "deviceId", (c, v) => ws.deactivateDevice(t.db, c, v), () => world.deviceId),
  {
    fn: "workspace.notify", valid: () => ({ userId: world.userId, type: "task.due", title: "t", body: "b", data: { k: 1 }, resourceType: "task", resourceId: world.taskId }), call: (i) => ws.notify(t.db, world.ctx, I(i)),
    fields: { userId: uuid, type: DOTTED, title: text(255), body: text(10_000), data: record, resourceType: WORD, resourceId: uuid }, optional: ["userId", "title", "body", "data", "resourceType"],
  },
  { ...one("unreadNotificationsOf", "limit", (c, v) => ws.unreadNotificationsOf(t.db, c, v), () => 10, num(1, 500)), optional: ["limit"] },
  { ...one("markNotificationsReadFor", "ids", (c, v) => ws.markNotificationsReadFor(t.db, c, v), () => [world.notificationId], list(uuid, () => crypto.randomUUID(), 1000, 1)) },
  // audit
  { fn: "workspace.auditLogOf", valid: () => ({ ...range(), limit: 10 }), call: (i) => ws.auditLogOf(t.db, world.ctx, I(i)), fields: { from: date, to: date, limit: num(1, 10_000) } },
];
SPECS.push(...WORKSPACE_SPECS);

/** A checksum of every business table (audit tables are append-only and checked separately). */
async function checksum(): Promise<string> {
  const tables = [
    "screening.tenants", "screening.entities", "screening.entity_identifiers", "screening.entity_profiles", "screening.entity_relations",
    "screening.cached_data_sources", "wills.consent_records", "wills.clauses",
  ];
  return `${await tablesChecksum(t.db, tables)} ${await workspaceChecksum(t.db)}`;
}

/** Audit rows other than those recording a failed call. */
const auditCounts = async () => ({
  ...(await t.db.pool.query("SELECT (SELECT count(*) FROM screening.audit_events WHERE event_type <> 'error')::int AS s, (SELECT count(*) FROM wills.audit_logs)::int AS w")).rows[0],
  workspace: (await workspaceCounts(t.db)).audit_success,
});

beforeAll(async () => {
  const tenant = await s.createTenant(t.db, { slug: "bad-input", name: "Bad input" });
  ctx = s.requestContext({ tenantId: tenant.tenant_id, actorId: null, correlationId: crypto.randomUUID() });
  wctx = w.willsContext({ actorId: null, actorType: "system", correlationId: crypto.randomUUID() });
  entityId = (await s.createEntity(t.db, ctx, { entityType: "individual" })).entity_id;
  await w.createClause(t.db, wctx, { code: "bad_input_clause", title: "t", body: "b", category: "general", willTypes: ["single"] });
  world = await makeWorkspaceWorld(t.db, "bad-input");
});

/** Fields that may be left out (optional, or a parameter with a default). */
const OPTIONAL = ["identifiers", "ipAddress", "userAgent", "variablesSchema", "category", "willType", "resourceId", "details", "monthsAhead", "ahead", "maxDepth", "limit", "currency"];

/** Set (or, for MISSING, delete) the value at a dotted path such as rows.0.subject. */
function setPath(input: Record<string, unknown>, path: string, value: unknown) {
  const keys = path.split(".");
  const last = keys.pop() as string;
  const parent = keys.reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, input);
  if (value === MISSING) delete parent[last];
  else parent[last] = value;
}

const domainOf = (fn: string) => fn.split(".")[0] as string;
const tried: Record<string, number> = {};
let notValidation = 0;
describe("bad-input matrix", () => {
  it.each(SPECS.map((sp) => [sp.fn, sp]))("%s", async (_name, spec) => {
    const before = await checksum();
    const auditsBefore = await auditCounts();
    const fields = Object.entries(spec.fields);
    const badFor = ([field, kind]: [string, Kind]) => badValues(kind).filter((v) => !(v === null && spec.nullable?.includes(field)));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: fields.length - 1 }).chain((f) => fc.tuple(fc.constant(f), badFor(fields[f] as [string, Kind]))), async ([f, bad]) => {
        const [field] = fields[f] as [string, Kind];
        const input = spec.valid();
        setPath(input, field, bad);
        // A missing optional field is not bad input: skip those draws.
        if (bad === MISSING && (OPTIONAL.includes(field) || spec.optional?.includes(field))) return;
        tried[domainOf(spec.fn)] = (tried[domainOf(spec.fn)] ?? 0) + 1;
        const err = await spec.call(input).then(
          () => new Error(`accepted ${field} = ${fc.stringify(bad)}`),
          (e) => e,
        );
        const shown = `${spec.fn} ${field} = ${fc.stringify(bad).slice(0, 60)}`; // fc.stringify: bad values include BigInt and cycles
        if (!(err instanceof ValidationError)) notValidation++;
        expect(err, shown).toBeInstanceOf(ValidationError);
        const named = (x: string) => x === field || x.startsWith(`${field}.`) || field.startsWith(x);
        expect((err as ValidationError).fields.some(named), `${shown}: ${field} not named in ${(err as ValidationError).fields}`).toBe(true);
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 25) },
    );
    expect(await checksum()).toBe(before);
    expect(await auditCounts()).toEqual(auditsBefore);
  });

  it("ran the matrix", () => {
    const total = Object.values(tried).reduce((a, b) => a + b, 0);
    const perDomain = Object.entries(tried).map(([d, n]) => `${d} ${SPECS.filter((sp) => domainOf(sp.fn) === d).length} functions/${n} inputs`).join(", ");
    console.log(`[bad-input] ${SPECS.length} service functions, ${total} bad inputs tried (${perDomain}), ${notValidation} not rejected with a ValidationError`);
    expect(notValidation).toBe(0);
    expect(total).toBeGreaterThan(SPECS.length * 15);
  });
});
