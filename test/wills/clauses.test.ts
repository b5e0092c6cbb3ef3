import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConflictError, NotFoundError, ValidationError } from "../../src/db/errors";
import { auditForResource, clauseHistory, createClause, currentClause, listCurrentClauses, publishRevision, willsContext } from "../../src/wills";
import { describeServer, SERVER_ONLY_REASON, useTestDb } from "../support/db";

const t = useTestDb();
const ctx = willsContext({ actorId: crypto.randomUUID(), actorType: "staff", correlationId: crypto.randomUUID() });
let n = 0;
const uniqueCode = (p: string) => `${p}_${++n}_${crypto.randomBytes(3).toString("hex")}`;

const newClause = (code: string, extra: Record<string, unknown> = {}) =>
  createClause(t.db, ctx, {
    code,
    title: "Appointment of executor",
    body: "I appoint {{executor_name}} as executor of my estate.",
    variablesSchema: { type: "object", properties: { executor_name: { type: "string" } }, required: ["executor_name"] },
    category: "executor",
    willTypes: ["single", "mirror"],
    ...extra,
  });

const counts = async () =>
  (await t.db.pool.query("SELECT (SELECT count(*) FROM wills.clauses)::int AS clauses, (SELECT count(*) FROM wills.audit_logs)::int AS audits")).rows[0];

const newestAudit = async () =>
  (await t.db.pool.query("SELECT action, resource_type, data_subject_id, details FROM wills.audit_logs ORDER BY created_at DESC, id DESC LIMIT 1")).rows[0];

describe("clause library", () => {
  it("creates a lineage, publishes revisions along a linked chain, and walks the history", async () => {
    const code = uniqueCode("executor");
    const v1 = await newClause(code);
    expect(v1).toMatchObject({ code, version: 1, previous_version_id: null, is_current: true });
    const v2 = await publishRevision(t.db, ctx, { code, basedOnVersion: 1, body: "I nominate {{executor_name}} as executor." });
    const v3 = await publishRevision(t.db, ctx, { code, basedOnVersion: 2, body: "v3 text", willTypes: ["single"] });
    expect(v2).toMatchObject({ version: 2, previous_version_id: v1.id, is_current: true, title: v1.title, category: "executor" });
    expect(v3).toMatchObject({ version: 3, previous_version_id: v2.id, will_types: ["single"] });

    expect((await currentClause(t.db, ctx, { code })).id).toBe(v3.id);
    const history = await clauseHistory(t.db, ctx, { code });
    expect(history.map((h) => [h.version, h.is_current])).toEqual([
      [3, true],
      [2, false],
      [1, false],
    ]);
    const { rows } = await t.db.pool.query("SELECT count(*)::int AS n FROM wills.clauses WHERE code = $1 AND is_current", [code]);
    expect(rows[0].n).toBe(1);

    const day = 86_400_000;
    const audit = await auditForResource(t.db, ctx, {
      resourceType: "clause",
      resourceId: v2.id,
      from: new Date(Date.now() - day),
      to: new Date(Date.now() + day),
    });
    expect(audit.map((a) => a.action)).toEqual(["clause.published"]);
  });

  it("a revision based on a stale version is a ConflictError and changes nothing but its failure record", async () => {
    const code = uniqueCode("bequest");
    await newClause(code, { category: "bequest" });
    await publishRevision(t.db, ctx, { code, basedOnVersion: 1, body: "second" });
    const before = await counts();
    const err = await publishRevision(t.db, ctx, { code, basedOnVersion: 1, body: "stale edit" }).catch((e) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err.message).toContain("is at version 2, not 1");
    // No clause changed; the one audit row is the failure record (written in its own transaction).
    expect(await counts()).toEqual({ ...before, audits: before.audits + 1 });
    expect(await newestAudit()).toMatchObject({
      action: "clause.failed",
      resource_type: "clause",
      details: { operation: "wills.clause.publish", code: "conflict" },
    });
    await expect(publishRevision(t.db, ctx, { code: "no_such_clause", basedOnVersion: 1, body: "x" })).rejects.toBeInstanceOf(NotFoundError);
  });

  it("a duplicate code is a ConflictError naming the constraint", async () => {
    const code = uniqueCode("dup");
    await newClause(code);
    const err = await newClause(code).catch((e) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(["clauses_code_version_key", "clauses_one_current_per_code"]).toContain(err.constraint);
  });

  it("lists current clauses by category and will type using the partial indexes", async () => {
    const a = uniqueCode("guard");
    const b = uniqueCode("funeral");
    await newClause(a, { category: "guardian", willTypes: ["joint"] });
    await newClause(b, { category: "funeral", willTypes: ["single", "joint"] });
    await publishRevision(t.db, ctx, { code: b, basedOnVersion: 1, body: "revised" });
    const guardians = await listCurrentClauses(t.db, ctx, { category: "guardian" });
    expect(guardians.map((c) => c.code)).toContain(a);
    expect(guardians.every((c) => c.category === "guardian" && c.is_current)).toBe(true);
    const joint = await listCurrentClauses(t.db, ctx, { willType: "joint" });
    expect(joint.map((c) => c.code)).toEqual(expect.arrayContaining([a, b]));
    expect(joint.filter((c) => c.code === b)).toHaveLength(1); // only the current version
    const living = await listCurrentClauses(t.db, ctx, { willType: "living" });
    expect(living.map((c) => c.code)).not.toContain(a);
  });

  it.each([
    ["code", "with spaces", { code: "Bad Code" }],
    ["title", "empty", { title: "" }],
    ["body", "of 50,001 chars", { body: "x".repeat(50_001) }],
    ["category", "unknown", { category: "poetry" }],
    ["willTypes", "empty", { willTypes: [] }],
    ["willTypes", "repeated", { willTypes: ["single", "single"] }],
    ["willTypes", "unknown", { willTypes: ["polygamous"] }],
    ["variablesSchema", "not an object schema", { variablesSchema: { type: "array" } }],
  ])("rejects %s (%s) with a ValidationError naming it", async (field, _why, bad) => {
    const before = await counts();
    const err = await newClause(uniqueCode("bad"), bad).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.fields.some((f: string) => f.startsWith(field))).toBe(true);
    // No clause; the one audit row is the failure record of the rejected input.
    expect(await counts()).toEqual({ ...before, audits: before.audits + 1 });
    expect(await newestAudit()).toMatchObject({ action: "clause.failed", details: { operation: "wills.clause.create", code: "validation" } });
  });

  it.each([
    ["clauses_previous_iff_not_first", "'c_chk1', 2, NULL"],
    ["clauses_version_positive", "'c_chk2', 0, gen_random_uuid()"],
    ["clauses_code_format", "'Bad', 1, NULL"],
  ])("the database rejects rows breaking %s", async (constraint, values) => {
    const err = await t.db
      .transaction((c) =>
        c.query(`INSERT INTO wills.clauses (code, version, previous_version_id, title, body, category, will_types)
                 VALUES (${values}, 't', 'b', 'general', '["single"]')`),
      )
      .catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.constraint).toBe(constraint);
  });

  it("the chain foreign key refuses a predecessor of another code or a skipped version number", async () => {
    const a = await newClause(uniqueCode("chain_a"));
    const insert = (code: string, version: number) =>
      t.db
        .transaction((c) =>
          c.query(
            `INSERT INTO wills.clauses (code, version, previous_version_id, is_current, title, body, category, will_types)
             VALUES ($1, $2, $3, false, 't', 'b', 'general', '["single"]')`,
            [code, version, a.id],
          ),
        )
        .catch((e) => e);
    const otherCode = await insert(uniqueCode("chain_b"), 2);
    expect(otherCode).toBeInstanceOf(NotFoundError);
    expect(otherCode.constraint).toBe("clauses_previous_version_fk");
    const skipped = await insert(a.code, 3);
    expect(skipped).toBeInstanceOf(NotFoundError);
    expect(skipped.constraint).toBe("clauses_previous_version_fk");
  });
});

describeServer(`concurrent revisions (server engine; ${SERVER_ONLY_REASON})`, () => {
  it("two racing revisions of one clause: exactly one wins, the other gets ConflictError", async () => {
    for (let round = 0; round < 10; round++) {
      const code = uniqueCode("race");
      await newClause(code);
      const results = await Promise.allSettled([1, 2].map((i) => publishRevision(t.db, ctx, { code, basedOnVersion: 1, body: `racer ${i}` })));
      const won = results.filter((r) => r.status === "fulfilled");
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0]?.reason).toBeInstanceOf(ConflictError);
      const { rows } = await t.db.pool.query("SELECT version, is_current FROM wills.clauses WHERE code = $1 ORDER BY version", [code]);
      expect(rows).toEqual([
        { version: 1, is_current: false },
        { version: 2, is_current: true },
      ]);
    }
  });
});
