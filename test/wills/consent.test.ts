import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../../src/db/errors";
import {
  auditForSubject,
  consentHistoryOf,
  currentConsent,
  grantConsent,
  hasConsent,
  willsContext,
  withdrawConsent,
} from "../../src/wills";
import { useTestDb } from "../support/db";

const t = useTestDb();
const ctx = willsContext({ actorId: crypto.randomUUID(), actorType: "data_subject", correlationId: crypto.randomUUID() });
const day = 86_400_000;
const window = () => ({ from: new Date(Date.now() - day), to: new Date(Date.now() + day) });
const counts = async () =>
  (
    await t.db.pool.query(
      "SELECT (SELECT count(*) FROM wills.consent_records)::int AS consents, (SELECT count(*) FROM wills.audit_logs)::int AS audits",
    )
  ).rows[0];

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
  it("grant, check, withdraw, re-grant under a new policy version, with history and audit rows", async () => {
    const s = crypto.randomUUID();
    const first = await grant(s);
    expect(first).toMatchObject({ data_subject_id: s, privacy_policy_version: "2026.1", withdrawn_at: null, ip_address: "196.25.1.7" });
    expect(await hasConsent(t.db, s, "will_drafting", "2026.1")).toBe(true);
    expect(await hasConsent(t.db, s, "marketing", "2026.1")).toBe(false);
    expect(await hasConsent(t.db, s, "will_drafting", "2027.1")).toBe(false);

    const withdrawn = await withdrawConsent(t.db, ctx, s, first.id);
    expect(withdrawn.withdrawn_at).toBeInstanceOf(Date);
    expect(await hasConsent(t.db, s, "will_drafting", "2026.1")).toBe(false);
    expect((await currentConsent(t.db, s)).categories).toEqual({});

    const second = await grant(s, { privacyPolicyVersion: "2026.2", categories: { will_drafting: true, marketing: true } });
    expect((await currentConsent(t.db, s)).categories).toEqual({ will_drafting: true, marketing: true });
    const history = await consentHistoryOf(t.db, s);
    expect(history.map((h) => h.id)).toEqual([second.id, first.id]);
    expect(history[1]?.withdrawn_at).not.toBeNull();

    const audit = await auditForSubject(t.db, s, window());
    expect(audit.map((a) => [a.action, a.resource_id])).toEqual([
      ["consent.granted", first.id],
      ["consent.withdrawn", first.id],
      ["consent.granted", second.id],
    ]);
    expect(audit.every((a) => a.correlation_id === ctx.correlationId && a.actor_id === ctx.actorId)).toBe(true);
  });

  it("a second active grant under the same policy version is a ConflictError naming the index, and writes nothing", async () => {
    const s = crypto.randomUUID();
    await grant(s);
    const before = await counts();
    const err = await grant(s).catch((e) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err.constraint).toBe("consent_records_one_active_per_policy");
    expect(await counts()).toEqual(before);
  });

  it("withdrawing twice is a ConflictError; someone else's record is NotFound", async () => {
    const s = crypto.randomUUID();
    const r = await grant(s);
    await withdrawConsent(t.db, ctx, s, r.id);
    await expect(withdrawConsent(t.db, ctx, s, r.id)).rejects.toBeInstanceOf(ConflictError);
    await expect(withdrawConsent(t.db, ctx, crypto.randomUUID(), r.id)).rejects.toBeInstanceOf(NotFoundError);
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
  ])("rejects %s (%s) with a ValidationError naming it, writing nothing", async (field, _why, bad) => {
    const before = await counts();
    const err = await grant(crypto.randomUUID(), bad).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.fields.some((f: string) => f.startsWith(field))).toBe(true);
    expect(await counts()).toEqual(before);
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
    expect((await consentHistoryOf(t.db, s))[0]?.consent_categories).toEqual({ will_drafting: true, marketing: false });
  });
});
