/**
 * `make explain` (src/tools/explain.ts): wills volume — n consent records with two audit rows each, n/10
 * clauses (at least 50), one in 20 of them retired — and representative values for the parameters of
 * queries/wills/*.sql.
 */
import type { ExplainSeed } from "../tools/explain";

export const explainSeed: ExplainSeed = {
  order: 20,
  async seed(db, n) {
    await db.query(
      `
    INSERT INTO wills.consent_records (data_subject_id, consent_categories, privacy_policy_version, consent_text_version, channel)
      SELECT gen_random_uuid(), '{"will_drafting": true}', '2026.1', 'v1', 'web' FROM generate_series(1, $1::int)`,
      [n],
    );
    await db.query(
      `
    INSERT INTO wills.clauses (code, version, title, body, category, will_types, is_current, retired_at)
      SELECT 'clause_' || g, 1, 'Clause ' || g, 'Body {{x}}',
             (enum_range(NULL::wills.clause_category))[1 + g % 10], '["single", "joint"]',
             g % 20 <> 0, CASE WHEN g % 20 = 0 THEN now() END
        FROM generate_series(1, $1::int) g`,
      [Math.max(50, Math.round(n / 10))],
    );
    await db.query(`
    INSERT INTO wills.audit_logs (action, actor_type, data_subject_id, resource_type, resource_id, created_at)
      SELECT 'consent.granted', 'data_subject', data_subject_id, 'consent_record', id, now() - (random() * interval '20 days')
        FROM wills.consent_records, generate_series(1, 2)`);
  },
  async params(_db, one) {
    const subject = await one("SELECT data_subject_id FROM wills.consent_records LIMIT 1");
    const consentId = await one("SELECT id FROM wills.consent_records LIMIT 1");
    const code = await one("SELECT code FROM wills.clauses WHERE is_current LIMIT 1");
    return {
      shared: {
        id: consentId,
        dataSubjectId: subject,
        code,
        resourceId: consentId,
        basedOnVersion: 1,
        consentCategories: '{"will_drafting": true}',
        privacyPolicyVersion: "2026.1",
        consentTextVersion: "v1",
        channel: "web",
        ipAddress: null,
        userAgent: null,
        category: "will_drafting",
        title: "t",
        body: "b",
        variablesSchema: "{}",
        willTypes: '["single"]',
        willType: "single",
        action: "consent.granted",
        actorType: "system",
        resourceType: "consent_record",
      },
      files: { "clauses.sql": { category: "executor" } },
    };
  },
};
