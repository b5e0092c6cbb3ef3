/** The screening domain (seeds 000-002): its public operations, each called as `(db, ctx, input)`. */
export { listAuditEvents, recordAuditEvent } from "./audit";
export { bulkCreateEntities, type EntityRow, importEntityRows, MAX_BULK_ENTITIES } from "./bulk";
export {
  bestCacheEntry,
  type CachePurgeReport,
  costTotals,
  type Freshness,
  lookupCache,
  purgeExpiredCache,
  storeProviderResponse,
  sweepFreshness,
} from "./cache";
export { type EventType, type RequestContext, requestContext } from "./context";
export { computeDelta, type Connection, type Finding, type ProfileDelta } from "./delta";
export {
  createEntity,
  type Entity,
  type EntityType,
  eraseEntity,
  type ErasureReport,
  findEntityByIdentifier,
  getEntity,
  IDENTIFIER_KINDS,
  type IdentifierKind,
  normaliseIdentifier,
  restoreEntity,
  softDeleteEntity,
  updateEntity,
} from "./entities";
export { createProfileVersion, latestProfile, type Profile, profileHistory, profileVersion } from "./profiles";
export { connections, linkEntities, neighbours, type Relation } from "./relations";
export { reencryptToActiveKey, type RotationReport } from "./rotation";
export { createTenant, deactivateTenant, renameTenant, type Tenant, tenantBySlug, updateTenant } from "./tenants";
