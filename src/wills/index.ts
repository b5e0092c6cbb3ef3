/** The wills domain (seed 004, POPIA): its public operations, each called as `(db, ctx, input)`. */
export { auditForResource, auditForSubject, recordAuditEvent } from "./audit";
export {
  type Clause,
  CLAUSE_CATEGORIES,
  type ClauseCategory,
  clauseHistory,
  createClause,
  currentClause,
  listCurrentClauses,
  publishRevision,
  retireClause,
  WILL_TYPES,
  type WillType,
} from "./clauses";
export {
  changeConsent,
  type ConsentRecord,
  consentHistory,
  currentConsent,
  type CurrentConsent,
  type GrantConsentInput,
  grantConsent,
  hasConsent,
  publishPolicyVersion,
  withdrawConsent,
} from "./consent";
export { type AuditEvent, type WillsContext, willsContext } from "./context";
