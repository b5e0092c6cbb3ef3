/** POPIA consent: grant, withdraw, current consent, history, and the check made before processing. */
import { z } from "zod";
import { ConflictError, NotFoundError } from "../db/errors";
import { many, maybeOne, one } from "../db/rows";
import { operation, recordAudit } from "./context";
import type { IInsertConsentResult } from "./queries/consent.queries";
import { sql } from "./sql";

export type ConsentRecord = IInsertConsentResult;

const version = z.string().regex(/^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$/, "must be 1-32 letters, digits, '.', '_' or '-'");
const category = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "must be a snake_case category name");
const subject = z.object({ dataSubjectId: z.uuid() });

const grantSchema = subject.extend({
  categories: z.record(category, z.boolean()).refine((m) => Object.keys(m).length > 0, "at least one category"),
  privacyPolicyVersion: version,
  consentTextVersion: version,
  channel: z.enum(["web", "mobile", "email", "phone", "in_person", "api"]),
  ipAddress: z.union([z.ipv4(), z.ipv6()]).optional(),
  userAgent: z.string().max(1024).optional(),
});
export type GrantConsentInput = z.input<typeof grantSchema>;

/** Record a grant. A second active grant under the same policy version is a ConflictError. */
export const grantConsent = operation({
  name: "wills.consent.grant",
  input: grantSchema,
  kind: "write",
  affects: "tenant",
  context: "actor",
  reveals: "personal",
  audit: "change",
  async run(p, { c, ctx }): Promise<ConsentRecord> {
    const rec = await one(sql.consent.insertConsent, { ...p, consentCategories: JSON.stringify(p.categories) }, c);
    await recordAudit(c, ctx, {
      action: "consent.granted",
      resourceType: "consent_record",
      resourceId: rec.id,
      dataSubjectId: rec.data_subject_id,
      details: { privacy_policy_version: rec.privacy_policy_version, consent_text_version: rec.consent_text_version, categories: p.categories },
    });
    return rec;
  },
});

/** Withdraw an active consent record (sets withdrawn_at; the row is kept). */
export const withdrawConsent = operation({
  name: "wills.consent.withdraw",
  input: subject.extend({ id: z.uuid() }),
  kind: "write",
  affects: "tenant",
  context: "actor",
  reveals: "personal",
  audit: "change",
  async run(p, { c, ctx }): Promise<ConsentRecord> {
    const row = await maybeOne(sql.consent.withdrawConsent, p, c);
    if (!row) {
      const existing = await maybeOne(sql.consent.getConsent, p, c);
      if (existing?.data_subject_id !== p.dataSubjectId) throw new NotFoundError("consent record not found for this data subject");
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
});

export interface CurrentConsent {
  /** Category -> granted, from the newest active record that mentions the category. */
  categories: Record<string, boolean>;
  /** The active records it was built from, newest first. */
  records: ConsentRecord[];
}

/** The subject's current consent per category (withdrawn records ignored; newer grants win). */
export const currentConsent = operation({
  name: "wills.consent.current",
  input: subject,
  kind: "read",
  context: "actor",
  reveals: "personal",
  audit: "access",
  async run(p, { c }): Promise<CurrentConsent> {
    const records = await many(sql.consent.activeConsents, p, c);
    const categories: Record<string, boolean> = {};
    for (const r of records) {
      for (const [k, v] of Object.entries(r.consent_categories as Record<string, boolean>)) if (!(k in categories)) categories[k] = v;
    }
    return { categories, records };
  },
  accessed: (p) => ({ subject: p.dataSubjectId }),
});

/** Every grant of the subject, withdrawn ones included, newest first. */
export const consentHistory = operation({
  name: "wills.consent.history",
  input: subject,
  kind: "read",
  context: "actor",
  reveals: "personal",
  audit: "access",
  run: (p, { c }): Promise<ConsentRecord[]> => many(sql.consent.consentHistory, p, c),
  accessed: (p) => ({ subject: p.dataSubjectId }),
});

/** The check made before processing: does an active grant under this policy version allow the category? */
export const hasConsent = operation({
  name: "wills.consent.check",
  input: subject.extend({ category, privacyPolicyVersion: version }),
  kind: "read",
  context: "actor",
  reveals: "personal",
  audit: "access",
  run: async (p, { c }): Promise<boolean> => (await one(sql.consent.hasConsent, p, c)).granted,
  accessed: (p) => ({ subject: p.dataSubjectId, details: { category: p.category, privacy_policy_version: p.privacyPolicyVersion } }),
});
