/** POPIA consent: grant, withdraw, current consent, history, and the check made before processing. */
import { z } from "zod";
import type pg from "pg";
import { ConflictError, NotFoundError } from "../db/errors";
import { many, maybeOne, one } from "../db/rows";
import { timestamp } from "../db/validate";
import { operation, platformOperation, recordAudit, willsContext } from "./context";
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
  /** The privacy-policy version in force (wills.privacy_policy_versions); null when none is published. */
  policy_version: string | null;
  /** Category -> granted, from the subject's active record under that version (empty without one). */
  categories: Record<string, boolean>;
  /** The active records under that version, newest first (at most one: one active grant per version). */
  records: ConsentRecord[];
}

/** The policy version in force, or null when none is published. */
async function policyInForce(c: pg.ClientBase): Promise<string | null> {
  return (await one(sql.consent.currentPolicyVersion, undefined, c)).version;
}

/**
 * The subject's consent under the privacy-policy version in force. A grant under a superseded version does
 * not count until the subject grants again under the current one.
 */
export const currentConsent = operation({
  name: "wills.consent.current",
  input: subject,
  kind: "read",
  context: "actor",
  reveals: "personal",
  audit: "access",
  async run(p, { c }): Promise<CurrentConsent> {
    const version = await policyInForce(c);
    const records = version ? await many(sql.consent.activeConsents, { ...p, privacyPolicyVersion: version }, c) : [];
    return { policy_version: version, categories: (records[0]?.consent_categories as Record<string, boolean> | undefined) ?? {}, records };
  },
  accessed: (p, r) => ({ subject: p.dataSubjectId, details: { policy_version: r.policy_version } }),
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

/** The check made before processing: does an active grant under the policy version in force allow the category? */
export const hasConsent = operation({
  name: "wills.consent.check",
  input: subject.extend({ category }),
  kind: "read",
  context: "actor",
  reveals: "personal",
  audit: "access",
  run: async (p, { c }): Promise<boolean> => (await one(sql.consent.hasConsent, p, c)).granted,
  accessed: (p) => ({ subject: p.dataSubjectId, details: { category: p.category } }),
});

/**
 * Change some categories of the subject's consent under the policy version in force, in one transaction:
 * the active record (if any) is withdrawn and a new one records the result (its categories merged with the
 * changes), so withdrawing or granting one category is one atomic step and every state stays on record.
 */
export const changeConsent = operation({
  name: "wills.consent.change",
  input: subject.extend({
    changes: z.record(category, z.boolean()).refine((m) => Object.keys(m).length > 0, "at least one category"),
    consentTextVersion: version,
    channel: z.enum(["web", "mobile", "email", "phone", "in_person", "api"]),
    ipAddress: z.union([z.ipv4(), z.ipv6()]).optional(),
    userAgent: z.string().max(1024).optional(),
  }),
  kind: "write",
  affects: "tenant",
  context: "actor",
  reveals: "personal",
  audit: "change",
  async run(p, { c, ctx }): Promise<ConsentRecord> {
    const policy = await policyInForce(c);
    if (!policy) throw new NotFoundError("no privacy-policy version is in force: publish one first");
    const previous = await maybeOne(sql.consent.lockActiveConsent, { dataSubjectId: p.dataSubjectId, privacyPolicyVersion: policy }, c);
    if (previous) await one(sql.consent.withdrawConsent, { id: previous.id, dataSubjectId: p.dataSubjectId }, c);
    const categories = { ...((previous?.consent_categories as Record<string, boolean> | undefined) ?? {}), ...p.changes };
    const rec = await one(sql.consent.insertConsent, { ...p, consentCategories: JSON.stringify(categories), privacyPolicyVersion: policy }, c);
    await recordAudit(c, ctx, {
      action: "consent.changed",
      resourceType: "consent_record",
      resourceId: rec.id,
      dataSubjectId: rec.data_subject_id,
      details: { privacy_policy_version: policy, changes: p.changes, previous_record: previous?.id ?? null },
    });
    return rec;
  },
});

/**
 * Platform operation: publish a privacy-policy version, in force from `effectiveFrom` (default now). Grants
 * under earlier versions stop counting from then. Recorded in the wills audit trail.
 */
export const publishPolicyVersion = platformOperation({
  name: "wills.policy.publish",
  input: z.object({ version, effectiveFrom: timestamp.optional(), summary: z.string().max(10_000).optional() }),
  kind: "write",
  affects: "platform",
  context: "platform",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx }) {
    const row = await one(sql.consent.insertPolicyVersion, { ...p, effectiveFrom: p.effectiveFrom ?? new Date() }, c);
    await recordAudit(c, willsContext({ actorId: ctx.actorId, actorType: ctx.actorId ? "staff" : "system", correlationId: ctx.correlationId }), {
      action: "policy.published",
      resourceType: "privacy_policy",
      details: { version: row.version, effective_from: row.effective_from.toISOString() },
    });
    return row;
  },
});
