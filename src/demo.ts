/**
 * `make demo`: walk each domain through the service layer against the configured database (the embedded
 * default in .data/ unless DATABASE_URL is set) and print what happened. Safe to run repeatedly: every
 * run uses fresh ids and clause codes.
 */
import crypto from "node:crypto";
import { loadConfig } from "./config";
import { dbFor, openEngine } from "./db/connect";
import { AppError } from "./db/errors";
import { migrate } from "./db/migrate";
import {
  auditForSubject,
  clauseHistoryOf,
  createClause,
  currentConsent,
  grantConsent,
  hasConsent,
  listCurrentClauses,
  publishRevision,
  willsContext,
  withdrawConsent,
} from "./wills";

const say = (s = "") => console.log(s);

async function main() {
  const cfg = loadConfig();
  const engine = await openEngine(cfg);
  const applied = await migrate(engine.url, { direction: "up" });
  const db = dbFor(engine, cfg);
  try {
    say(`database: ${engine.kind}${applied.length ? ` (applied ${applied.length} pending migration(s))` : ""}`);

    say("\n== wills: POPIA consent ==");
    const subject = crypto.randomUUID();
    const asSubject = willsContext({ actorId: subject, actorType: "data_subject", correlationId: crypto.randomUUID(), ipAddress: "196.25.1.7" });
    const c1 = await grantConsent(db, asSubject, {
      dataSubjectId: subject,
      categories: { will_drafting: true, marketing: false },
      privacyPolicyVersion: "2026.1",
      consentTextVersion: "v3",
      channel: "web",
      ipAddress: "196.25.1.7",
    });
    say(`granted consent ${c1.id} under policy 2026.1: ${JSON.stringify(c1.consent_categories)}`);
    say(`hasConsent(will_drafting, 2026.1) = ${await hasConsent(db, subject, "will_drafting", "2026.1")}`);
    say(`hasConsent(marketing, 2026.1)     = ${await hasConsent(db, subject, "marketing", "2026.1")}`);
    await grantConsent(db, asSubject, {
      dataSubjectId: subject,
      categories: { will_drafting: true },
      privacyPolicyVersion: "2026.1",
      consentTextVersion: "v3",
      channel: "web",
    }).catch((e: AppError) => say(`granting again under the same policy -> ${e.name}: ${e.message}`));
    await withdrawConsent(db, asSubject, subject, c1.id);
    say(`withdrew ${c1.id}; hasConsent(will_drafting, 2026.1) = ${await hasConsent(db, subject, "will_drafting", "2026.1")}`);
    await grantConsent(db, asSubject, {
      dataSubjectId: subject,
      categories: { will_drafting: true, marketing: true },
      privacyPolicyVersion: "2026.2",
      consentTextVersion: "v4",
      channel: "mobile",
    });
    say(`re-granted under policy 2026.2; current consent: ${JSON.stringify((await currentConsent(db, subject)).categories)}`);

    say("\n== wills: versioned clause library ==");
    const staff = willsContext({ actorId: crypto.randomUUID(), actorType: "staff", correlationId: crypto.randomUUID() });
    const code = `executor_appointment_${Date.now()}`;
    const v1 = await createClause(db, staff, {
      code,
      title: "Appointment of executor",
      body: "I appoint {{executor_name}} as executor of my estate.",
      variablesSchema: { type: "object", properties: { executor_name: { type: "string" } }, required: ["executor_name"] },
      category: "executor",
      willTypes: ["single", "mirror"],
    });
    say(`created ${code} v${v1.version}`);
    const v2 = await publishRevision(db, staff, { code, basedOnVersion: 1, body: "I nominate {{executor_name}} as executor and administrator of my estate." });
    say(`published v${v2.version} (previous_version_id = v1's id: ${v2.previous_version_id === v1.id})`);
    await publishRevision(db, staff, { code, basedOnVersion: 1, body: "a stale edit" }).catch((e: AppError) =>
      say(`a second editor still on v1 -> ${e.name}: ${e.message}`),
    );
    for (const h of await clauseHistoryOf(db, code)) say(`  history: v${h.version}${h.is_current ? " (current)" : ""}: ${h.body}`);
    say(`current executor clauses for mirror wills: ${(await listCurrentClauses(db, { category: "executor", willType: "mirror" })).length}`);

    say("\n== wills: audit trail (same transaction as each change; append-only) ==");
    const day = 86_400_000;
    for (const a of await auditForSubject(db, subject, { from: new Date(Date.now() - day), to: new Date(Date.now() + day) })) {
      say(`  ${a.created_at.toISOString()}  ${a.action.padEnd(18)} ${a.resource_type} ${a.resource_id}`);
    }
    await db
      .transaction((c) => c.query("DELETE FROM wills.audit_logs WHERE data_subject_id = $1", [subject]))
      .catch((e: AppError) => say(`deleting audit rows, even as the owner -> ${e.name}: ${e.message}`));
  } finally {
    await db.close();
  }
}

main().catch((e) => {
  console.error(e instanceof AppError ? `error (${e.code}): ${e.message}` : e);
  process.exit(1);
});
