import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../../src/db/errors";
import { platformContext } from "../../src/db/operation";
import {
  auditForSubject,
  changeConsent,
  consentHistory,
  currentConsent,
  grantConsent,
  hasConsent,
  publishPolicyVersion,
  willsContext,
  withdrawConsent,
} from "../../src/wills";
import { useTestDb } from "../support/db";

const t = useTestDb();
const ctx = willsContext({ actorId: crypto.randomUUID(), actorType: "data_subject", correlationId: crypto.randomUUID() });
const day = 86_400_000;
const window = () => ({ from: new Date(Date.now() - day), to: new Date(Date.now() + day) });
const counts = async () =>
  (await t.db.pool.query("SELECT (SELECT count(*) FROM wills.consent_records)::int AS consents, (SELECT count(*) FROM wills.audit_logs)::int AS audits"))
    .rows[0];

const newestAudit = async () =>
  (await t.db.pool.query("SELECT action, resource_type, data_subject_id, details FROM wills.audit_logs ORDER BY created_at DESC, id DESC LIMIT 1")).rows[0];

const grant = (subject: string, overrides: Record<string, unknown> = {}) =>
  grantConsent(t.db, ctx, {
    dataSubjectId: subject,
    categories: { will_drafting: true, marketing: false },
    privacyPolicyVersion: "2026.1",
    consentTextVersion: "v3",
    channel: "web",
    ipAddress: "196.25.1.7",
    userAgent: "Mozilla/5.0",
    ...overrides,
  });

describe("consent records", () => {
  it("consent counts under the policy version in force only: v1 grant, v2 in force, v2 grant with fewer categories, one category withdrawn atomically", async () => {
    const s = crypto.randomUUID();
    const platform = platformContext({ actorId: crypto.randomUUID() });
    await publishPolicyVersion(t.db, platform, { version: "2026.1", effectiveFrom: new Date(Date.now() - 2 * day), summary: "first" });
    const first = await grant(s);
    expect(first).toMatchObject({ data_subject_id: s, privacy_policy_version: "2026.1", withdrawn_at: null, ip_address: "196.25.1.7" });
    const check = (category: string) => hasConsent(t.db, ctx, { dataSubjectId: s, category });
    expect(await check("will_drafting")).toBe(true);
    expect(await check("marketing")).toBe(false);

    const withdrawn = await withdrawConsent(t.db, ctx, { dataSubjectId: s, id: first.id });
    expect(withdrawn.withdrawn_at).toBeInstanceOf(Date);
    expect(await check("will_drafting")).toBe(false);
    expect(await currentConsent(t.db, ctx, { dataSubjectId: s })).toEqual({ policy_version: "2026.1", categories: {}, records: [] });
    const regranted = await grant(s);

    // v2 comes into force: the v1 grant no longer counts until the subject grants again under v2.
    await publishPolicyVersion(t.db, platform, { version: "2026.2", effectiveFrom: new Date(Date.now() - 1000) });
    expect(await check("will_drafting")).toBe(false);
    expect((await currentConsent(t.db, ctx, { dataSubjectId: s })).policy_version).toBe("2026.2");
    const second = await grant(s, { privacyPolicyVersion: "2026.2", categories: { marketing: true } });
    // Only what the v2 grant says: will_drafting from the v1 record is not merged in.
    expect(await currentConsent(t.db, ctx, { dataSubjectId: s })).toMatchObject({ policy_version: "2026.2", categories: { marketing: true } });
    expect(await check("will_drafting")).toBe(false);
    expect(await check("marketing")).toBe(true);

    // One category changed in one step: the active record is withdrawn and a new one records the result.
    const changed = await changeConsent(t.db, ctx, {
      dataSubjectId: s,
      changes: { marketing: false, will_drafting: true },
      consentTextVersion: "v4",
      channel: "mobile",
    });
    expect(changed).toMatchObject({ privacy_policy_version: "2026.2", consent_categories: { marketing: false, will_drafting: true }, withdrawn_at: null });
    expect(await check("marketing")).toBe(false);
    expect(await check("will_drafting")).toBe(true);
    const history = await consentHistory(t.db, ctx, { dataSubjectId: s });
    expect(history.map((h) => [h.id, h.withdrawn_at !== null])).toEqual([
      [changed.id, false],
      [second.id, true],
      [regranted.id, false],
      [first.id, true],
    ]);

    const audit = await auditForSubject(t.db, ctx, { dataSubjectId: s, ...window() });
    expect(audit.filter((a) => a.action !== "consent.accessed").map((a) => [a.action, a.resource_id])).toEqual([
      ["consent.granted", first.id],
      ["consent.withdrawn", first.id],
      ["consent.granted", regranted.id],
      ["consent.granted", second.id],
      ["consent.changed", changed.id],
    ]);
    expect(audit.find((a) => a.action === "consent.changed")?.details).toEqual({
      privacy_policy_version: "2026.2",
      changes: { marketing: false, will_drafting: true },
      previous_record: second.id,
    });
    // Every read of the subject's consent left an access row naming the operation.
    expect(audit.filter((a) => a.action === "consent.accessed").length).toBe(12);
    expect(audit.every((a) => a.correlation_id === ctx.correlationId && a.actor_id === ctx.actorId)).toBe(true);
    // Publishing is on record too.
    const published = await t.db.pool.query("SELECT details FROM wills.audit_logs WHERE action = 'policy.published' ORDER BY created_at");
    expect(published.rows.map((r) => r.details.version)).toEqual(["2026.1", "2026.2"]);
  });

  it("a second active grant under the same policy version is a ConflictError naming the index, and writes nothing but its failure record", async () => {
    const s = crypto.randomUUID();
    await grant(s);
    const before = await counts();
    const err = await grant(s).catch((e) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err.constraint).toBe("consent_records_one_active_per_policy");
    // No consent record; the one audit row is the failure record (written in its own transaction).
    expect(await counts()).toEqual({ ...before, audits: before.audits + 1 });
    expect(await newestAudit()).toMatchObject({ action: "consent.failed", details: { operation: "wills.consent.grant", code: "conflict" } });
  });

  it("withdrawing twice is a ConflictError; someone else's record is NotFound", async () => {
    const s = crypto.randomUUID();
    const r = await grant(s);
    await withdrawConsent(t.db, ctx, { dataSubjectId: s, id: r.id });
    await expect(withdrawConsent(t.db, ctx, { dataSubjectId: s, id: r.id })).rejects.toBeInstanceOf(ConflictError);
    await expect(withdrawConsent(t.db, ctx, { dataSubjectId: crypto.randomUUID(), id: r.id })).rejects.toBeInstanceOf(NotFoundError);
  });

  it.each([
    ["categories", "empty", { categories: {} }],
    ["categories.will_drafting", "not a boolean", { categories: { will_drafting: "yes" } }],
    ["categories", "a bad name", { categories: { "Bad Name": true } }],
    ["channel", "unknown", { channel: "carrier_pigeon" }],
    ["privacyPolicyVersion", "empty", { privacyPolicyVersion: "" }],
    ["ipAddress", "not an IP", { ipAddress: "999.1.1.1" }],
    ["userAgent", "of 1,025 chars", { userAgent: "x".repeat(1025) }],
    ["dataSubjectId", "not a UUID", { dataSubjectId: "not-a-uuid" }],
  ])("rejects %s (%s) with a ValidationError naming it, writing nothing but its failure record", async (field, _why, bad) => {
    const before = await counts();
    const err = await grant(crypto.randomUUID(), bad).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.fields.some((f: string) => f.startsWith(field))).toBe(true);
    // No consent record; the one audit row is the failure record of the rejected input.
    expect(await counts()).toEqual({ ...before, audits: before.audits + 1 });
    expect(await newestAudit()).toMatchObject({ action: "consent.failed", details: { operation: "wills.consent.grant", code: "validation" } });
  });

  it.each([
    ["consent_records_categories_boolean_map", `'{"a": "yes"}'`, "'2026.1'", "'web'", "now()", "NULL"],
    ["consent_records_categories_boolean_map", `'[true]'`, "'2026.1'", "'web'", "now()", "NULL"],
    ["consent_records_policy_version_format", `'{"a": true}'`, "''", "'web'", "now()", "NULL"],
    ["consent_records_channel_check", `'{"a": true}'`, "'2026.1'", "'fax'", "now()", "NULL"],
    ["consent_records_withdrawn_after_granted", `'{"a": true}'`, "'2026.1'", "'web'", "now()", "now() - interval '1 day'"],
  ])("the database itself rejects rows breaking %s", async (constraint, cats, policy, channel, granted, withdrawn) => {
    const err = await t.db
      .transaction((c) =>
        c.query(
          `INSERT INTO wills.consent_records (data_subject_id, consent_categories, privacy_policy_version, consent_text_version, channel, granted_at, withdrawn_at)
           VALUES (gen_random_uuid(), ${cats}, ${policy}, 'v1', ${channel}, ${granted}, ${withdrawn})`,
        ),
      )
      .catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.constraint).toBe(constraint);
  });

  it("the application role can neither delete consent records nor rewrite them", async () => {
    const s = crypto.randomUUID();
    const r = await grant(s);
    for (const sql of [
      "DELETE FROM wills.consent_records WHERE id = $1",
      "UPDATE wills.consent_records SET consent_categories = '{\"marketing\": true}' WHERE id = $1",
    ]) {
      const err = await t.db.transaction((c) => c.query(sql, [r.id]), { asApp: true }).catch((e) => e);
      expect(err, sql).toBeInstanceOf(ForbiddenError);
    }
    expect((await consentHistory(t.db, ctx, { dataSubjectId: s }))[0]?.consent_categories).toEqual({ will_drafting: true, marketing: false });
  });
});

describe("failure and data-access records", () => {
  /** A context of its own per check, so its audit rows are exactly those with its correlation id. */
  const fresh = () => willsContext({ actorId: crypto.randomUUID(), actorType: "staff", correlationId: crypto.randomUUID() });
  const rowsOf = async (c: { correlationId: string }) =>
    (await t.db.pool.query("SELECT * FROM wills.audit_logs WHERE correlation_id = $1 ORDER BY created_at, id", [c.correlationId])).rows;

  it("a rejected grant (bad dataSubjectId) leaves exactly one consent.failed row: operation and code, no input values", async () => {
    const c = fresh();
    const input = {
      dataSubjectId: "not-a-uuid",
      categories: { will_drafting: true },
      privacyPolicyVersion: "2026.9",
      consentTextVersion: "v9",
      channel: "web" as const,
      ipAddress: "196.25.1.99",
      userAgent: "SecretAgent/7.7",
    };
    const err = await grantConsent(t.db, c, input).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    const rows = await rowsOf(c);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      action: "consent.failed",
      resource_type: "consent",
      resource_id: null,
      data_subject_id: null,
      actor_id: c.actorId,
      actor_type: "staff",
      details: { operation: "wills.consent.grant", code: "validation", fields: ["dataSubjectId"] },
    });
    const stored = JSON.stringify(rows[0]);
    for (const value of ["not-a-uuid", "will_drafting", "2026.9", "v9", "196.25.1.99", "SecretAgent"]) expect(stored, value).not.toContain(value);
  });

  it("withdrawing an unknown record leaves exactly one consent.failed row: operation and code, no input values", async () => {
    const c = fresh();
    const input = { dataSubjectId: crypto.randomUUID(), id: crypto.randomUUID() };
    await expect(withdrawConsent(t.db, c, input)).rejects.toBeInstanceOf(NotFoundError);
    const rows = await rowsOf(c);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      action: "consent.failed",
      resource_type: "consent",
      resource_id: null,
      data_subject_id: null,
      details: { operation: "wills.consent.withdraw", code: "not_found" },
    });
    const stored = JSON.stringify(rows[0]);
    for (const value of [input.dataSubjectId, input.id]) expect(stored).not.toContain(value);
  });

  it("currentConsent leaves one consent.accessed row naming the data subject", async () => {
    const s = crypto.randomUUID();
    // Its own policy version, in force from now, so the grant below is current whatever ran before.
    const version = `access-${crypto.randomBytes(3).toString("hex")}`;
    await publishPolicyVersion(t.db, platformContext(), { version, effectiveFrom: new Date(Date.now() - 1000) });
    await grant(s, { privacyPolicyVersion: version });
    const c = fresh();
    expect((await currentConsent(t.db, c, { dataSubjectId: s })).categories).toEqual({ will_drafting: true, marketing: false });
    const rows = await rowsOf(c);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      action: "consent.accessed",
      resource_type: "consent",
      resource_id: null,
      data_subject_id: s,
      actor_id: c.actorId,
      details: { operation: "wills.consent.current" },
    });
  });
});
