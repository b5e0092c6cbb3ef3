import crypto from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { ensurePartitions, reportPartitions } from "../../src/core/partitions";
import { AppendOnlyError, ForbiddenError, ValidationError } from "../../src/db/errors";
import { platformContext } from "../../src/db/operation";
import { auditForSubject, grantConsent, willsContext } from "../../src/wills";
import { useTestDb } from "../support/db";

const t = useTestDb();
const ctx = willsContext({ actorId: null, actorType: "system", correlationId: crypto.randomUUID() });
const subject = crypto.randomUUID();
const P = platformContext();

beforeAll(async () => {
  await grantConsent(t.db, ctx, {
    dataSubjectId: subject,
    categories: { will_drafting: true },
    privacyPolicyVersion: "1",
    consentTextVersion: "1",
    channel: "api",
  });
});

const auditCount = async () => Number((await t.db.pool.query("SELECT count(*) AS n FROM wills.audit_logs")).rows[0].n);

describe("wills.audit_logs", () => {
  it("is partitioned by month: current month and 3 ahead plus DEFAULT, and the partition run is idempotent", async () => {
    const r = await ensurePartitions(t.db, P, { parent: "wills.audit_logs", monthsAhead: 3 });
    expect(r).toHaveLength(5);
    expect(r.some((p) => p.created)).toBe(false);
    expect(r.at(-1)?.partition_name).toBe("audit_logs_default");
  });

  it.each([
    ["owner", false],
    ["app role", true],
  ])("UPDATE, DELETE and TRUNCATE all fail for the %s, on the parent and on a partition", async (_who, asApp) => {
    const before = await auditCount();
    const [{ part }] = (await t.db.pool.query("SELECT tableoid::regclass::text AS part FROM wills.audit_logs LIMIT 1")).rows;
    for (const table of ["wills.audit_logs", part]) {
      for (const sql of [`UPDATE ${table} SET action = 'consent.forged'`, `DELETE FROM ${table}`, `TRUNCATE ${table}`]) {
        const err = await t.db.transaction((c) => c.query(sql), { asApp }).catch((e) => e);
        // The owner hits the append-only guard; `app` has no such privilege in the first place.
        expect(err, `${sql} as ${_who}`).toBeInstanceOf(asApp ? ForbiddenError : AppendOnlyError);
      }
    }
    expect(await auditCount()).toBe(before);
  });

  it("a failed change leaves no change row, only its failure record (written in its own transaction)", async () => {
    const before = await auditCount();
    const err = await grantConsent(t.db, ctx, {
      dataSubjectId: subject,
      categories: { will_drafting: true },
      privacyPolicyVersion: "1", // already active: the insert fails after nothing else was written
      consentTextVersion: "1",
      channel: "api",
    }).catch((e) => e);
    expect(err.code).toBe("conflict");
    expect(await auditCount()).toBe(before + 1);
    const { rows } = await t.db.pool.query(
      "SELECT action, resource_type, data_subject_id, details FROM wills.audit_logs WHERE correlation_id = $1 AND action <> 'consent.granted'",
      [ctx.correlationId],
    );
    expect(rows).toEqual([
      {
        action: "consent.failed",
        resource_type: "consent",
        data_subject_id: null,
        details: { operation: "wills.consent.grant", code: "conflict", sqlstate: "23505", constraint: "consent_records_one_active_per_policy", fields: null },
      },
    ]);
  });

  it("a row dated 10 years ahead lands in DEFAULT, and the partition report flags it", async () => {
    await t.db.pool.query(
      "INSERT INTO wills.audit_logs (created_at, action, actor_type, resource_type) VALUES (now() + interval '10 years', 'test.far_future', 'system', 'test')",
    );
    const { rows } = await t.db.pool.query("SELECT tableoid::regclass::text AS part FROM wills.audit_logs WHERE action = 'test.far_future'");
    expect(rows).toEqual([{ part: "wills.audit_logs_default" }]);
    const report = await reportPartitions(t.db, P);
    expect(report.nonEmptyDefaults.map((d) => [d.parent, d.row_count])).toEqual([["wills.audit_logs", "1"]]);
  });

  it("a one-month range query scans only that month's partition (EXPLAIN shows pruning)", async () => {
    const now = new Date();
    const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    const month = `${from.getUTCFullYear()}_${String(from.getUTCMonth() + 1).padStart(2, "0")}`;
    const plan = await t.db.transaction(async (c) => {
      const r = await c.query("EXPLAIN (FORMAT JSON) SELECT * FROM wills.audit_logs WHERE data_subject_id = $1 AND created_at >= $2 AND created_at < $3", [
        subject,
        from,
        to,
      ]);
      return JSON.stringify(r.rows[0]["QUERY PLAN"]);
    });
    const scanned = [...plan.matchAll(/"Relation Name":"(audit_logs[^"]*)"/g)].map((m) => m[1]);
    expect(scanned.length).toBeGreaterThan(0);
    expect(new Set(scanned)).toEqual(new Set([`audit_logs_p${month}`]));
    // And the service's query returns this month's consent event.
    const rows = await auditForSubject(t.db, ctx, { dataSubjectId: subject, from, to });
    expect(rows.map((r) => r.action)).toEqual(["consent.granted"]);
  });

  it("rejects a reversed time range", async () => {
    const now = new Date();
    await expect(auditForSubject(t.db, ctx, { dataSubjectId: subject, from: now, to: new Date(now.getTime() - 1) })).rejects.toBeInstanceOf(ValidationError);
  });
});

describe("database constraints of the wills schema", () => {
  const subjectId = "0190a000-0000-7000-8000-0000000000aa";
  it.each([
    [
      "clauses_title_length",
      "INSERT INTO wills.clauses (code, version, title, body, category, will_types) VALUES ('c_t', 1, '', 'b', 'general', '[\"single\"]')",
    ],
    [
      "clauses_body_length",
      "INSERT INTO wills.clauses (code, version, title, body, category, will_types) VALUES ('c_b', 1, 't', '', 'general', '[\"single\"]')",
    ],
    [
      "clauses_variables_schema_object",
      "INSERT INTO wills.clauses (code, version, title, body, category, will_types, variables_schema) VALUES ('c_v', 1, 't', 'b', 'general', '[\"single\"]', '[]')",
    ],
    [
      "clauses_will_types_known",
      "INSERT INTO wills.clauses (code, version, title, body, category, will_types) VALUES ('c_w', 1, 't', 'b', 'general', '[\"polygamous\"]')",
    ],
    ["clauses_will_types_known", "INSERT INTO wills.clauses (code, version, title, body, category, will_types) VALUES ('c_w2', 1, 't', 'b', 'general', '[]')"],
    [
      "consent_records_text_version_format",
      `INSERT INTO wills.consent_records (data_subject_id, consent_categories, privacy_policy_version, consent_text_version, channel) VALUES ('${subjectId}', '{"a": true}', '1', ' bad', 'web')`,
    ],
    [
      "consent_records_user_agent_length",
      `INSERT INTO wills.consent_records (data_subject_id, consent_categories, privacy_policy_version, consent_text_version, channel, user_agent) VALUES ('${subjectId}', '{"a": true}', '1', '1', 'web', repeat('x', 1025))`,
    ],
    ["audit_logs_action_format", "INSERT INTO wills.audit_logs (action, actor_type, resource_type) VALUES ('Bad Action', 'system', 'x')"],
    ["audit_logs_actor_type_check", "INSERT INTO wills.audit_logs (action, actor_type, resource_type) VALUES ('a.b', 'robot', 'x')"],
    ["audit_logs_resource_type_format", "INSERT INTO wills.audit_logs (action, actor_type, resource_type) VALUES ('a.b', 'system', 'X Y')"],
    ["audit_logs_details_object", "INSERT INTO wills.audit_logs (action, actor_type, resource_type, details) VALUES ('a.b', 'system', 'x', '[1]')"],
  ])("%s rejects a bad row with a ValidationError naming it", async (constraint, sql) => {
    const err = await t.db.transaction((c) => c.query(sql)).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.constraint).toBe(constraint);
  });

  it("recordAuditEvent validates and records a standalone event", async () => {
    const { recordAuditEvent } = await import("../../src/wills");
    const row = await recordAuditEvent(t.db, ctx, { action: "will.viewed", resourceType: "will", dataSubjectId: subject });
    expect(row?.id).toMatch(/^[0-9a-f-]{36}$/);
    await expect(recordAuditEvent(t.db, ctx, { action: "DROP TABLE", resourceType: "will" })).rejects.toBeInstanceOf(ValidationError);
  });
});
