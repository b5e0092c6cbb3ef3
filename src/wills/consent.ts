/** POPIA consent: grant, withdraw, current consent, history, and the check made before processing. */
import { z } from "zod";
import type { Db } from "../db/connect";
import { ConflictError, NotFoundError } from "../db/errors";
import { parseInput } from "../db/validate";
import { recordAudit, type WillsContext } from "./audit";
import {
  activeConsents,
  consentHistory,
  getConsent,
  hasConsent as hasConsentQuery,
  type IInsertConsentResult,
  insertConsent,
  withdrawConsent as withdrawConsentQuery,
} from "./queries/consent.queries";

export type ConsentRecord = IInsertConsentResult;

const version = z.string().regex(/^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$/, "must be 1-32 letters, digits, '.', '_' or '-'");
const category = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "must be a snake_case category name");

const grantSchema = z.object({
  dataSubjectId: z.uuid(),
  categories: z.record(category, z.boolean()).refine((m) => Object.keys(m).length > 0, "at least one category"),
  privacyPolicyVersion: version,
  consentTextVersion: version,
  channel: z.enum(["web", "mobile", "email", "phone", "in_person", "api"]),
  ipAddress: z.union([z.ipv4(), z.ipv6()]).optional(),
  userAgent: z.string().max(1024).optional(),
});
export type GrantConsentInput = z.input<typeof grantSchema>;

/** Record a grant. A second active grant under the same policy version is a ConflictError. */
export async function grantConsent(db: Db, ctx: WillsContext, input: GrantConsentInput): Promise<ConsentRecord> {
  const g = parseInput(grantSchema, input, "consent");
  return db.transaction(
    async (c) => {
      const [row] = await insertConsent.run(
        {
          dataSubjectId: g.dataSubjectId,
          consentCategories: JSON.stringify(g.categories),
          privacyPolicyVersion: g.privacyPolicyVersion,
          consentTextVersion: g.consentTextVersion,
          channel: g.channel,
          ipAddress: g.ipAddress ?? null,
          userAgent: g.userAgent ?? null,
        },
        c,
      );
      const rec = row as ConsentRecord;
      await recordAudit(c, ctx, {
        action: "consent.granted",
        resourceType: "consent_record",
        resourceId: rec.id,
        dataSubjectId: rec.data_subject_id,
        details: { privacy_policy_version: rec.privacy_policy_version, consent_text_version: rec.consent_text_version, categories: g.categories },
      });
      return rec;
    },
    { asApp: true },
  );
}

/** Withdraw an active consent record (sets withdrawn_at; the row is kept). */
export async function withdrawConsent(db: Db, ctx: WillsContext, dataSubjectId: string, consentId: string): Promise<ConsentRecord> {
  const p = parseInput(z.object({ dataSubjectId: z.uuid(), id: z.uuid() }), { dataSubjectId, id: consentId }, "withdrawal");
  return db.transaction(
    async (c) => {
      const [row] = await withdrawConsentQuery.run(p, c);
      if (!row) {
        const [existing] = await getConsent.run({ id: p.id }, c);
        if (!existing || existing.data_subject_id !== p.dataSubjectId) throw new NotFoundError("consent record not found for this data subject");
        throw new ConflictError("consent record was already withdrawn");
      }
      await recordAudit(c, ctx, {
        action: "consent.withdrawn",
        resourceType: "consent_record",
        resourceId: row.id,
        dataSubjectId: row.data_subject_id,
        details: { privacy_policy_version: row.privacy_policy_version },
      });
      return row;
    },
    { asApp: true },
  );
}

export interface CurrentConsent {
  /** Category -> granted, from the newest active record that mentions the category. */
  categories: Record<string, boolean>;
  /** The active records it was built from, newest first. */
  records: ConsentRecord[];
}

/** The subject's current consent per category (withdrawn records ignored; newer grants win). */
export async function currentConsent(db: Db, dataSubjectId: string): Promise<CurrentConsent> {
  const id = parseInput(z.uuid(), dataSubjectId, "dataSubjectId");
  const records = await db.transaction((c) => activeConsents.run({ dataSubjectId: id }, c), { asApp: true, readOnly: true });
  const categories: Record<string, boolean> = {};
  for (const r of records) {
    for (const [k, v] of Object.entries(r.consent_categories as Record<string, boolean>)) if (!(k in categories)) categories[k] = v;
  }
  return { categories, records };
}

/** Every grant of the subject, withdrawn ones included, newest first. */
export async function consentHistoryOf(db: Db, dataSubjectId: string): Promise<ConsentRecord[]> {
  const id = parseInput(z.uuid(), dataSubjectId, "dataSubjectId");
  return db.transaction((c) => consentHistory.run({ dataSubjectId: id }, c), { asApp: true, readOnly: true });
}

/** The check made before processing: does an active grant under this policy version allow the category? */
export async function hasConsent(db: Db, dataSubjectId: string, cat: string, privacyPolicyVersion: string): Promise<boolean> {
  const p = parseInput(
    z.object({ dataSubjectId: z.uuid(), category, privacyPolicyVersion: version }),
    { dataSubjectId, category: cat, privacyPolicyVersion },
    "consent check",
  );
  const [row] = await db.transaction((c) => hasConsentQuery.run(p, c), { asApp: true, readOnly: true });
  return row?.granted === true;
}
