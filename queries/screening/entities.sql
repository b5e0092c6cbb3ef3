/* Entities with encrypted identifiers, and their blind indexes (screening.entities, entity_identifiers). */

/* @name InsertEntity */
-- No RETURNING: `app` sees an entity only once its tenant is linked to it (LinkEntity, next).
INSERT INTO screening.entities (entity_id, entity_type, canonical_identifiers)
VALUES (:entityId!, :entityType!, :canonicalIdentifiers!);

/* @name LinkEntity */
-- The tenant uses the entity its transaction just created (the policy new_entities_only refuses any other).
INSERT INTO screening.tenant_entities (tenant_id, entity_id) VALUES (:tenantId!, :entityId!)
ON CONFLICT (tenant_id, entity_id) DO NOTHING;

/* @name LiveLinks */
-- Which of these entities the tenant uses and has not deleted.
SELECT entity_id FROM screening.tenant_entities
 WHERE tenant_id = :tenantId! AND entity_id = ANY (:entityIds!::uuid[]) AND deleted_at IS NULL;

/* @name NewEntityId */
-- The id is made first so the encrypted identifiers can be bound to it (AAD).
SELECT core.uuidv7() AS "entity_id!";

/*
  @name InsertIdentifiers
  @param rows -> ((identifierKind!, blindIndex!, entityId!)...)
*/
INSERT INTO screening.entity_identifiers (identifier_kind, blind_index, entity_id) VALUES :rows;

/* @name EntityById */
-- The entity as this tenant sees it: only through its link; deleted_at is the tenant's soft delete.
SELECT e.entity_id, e.entity_type, e.canonical_identifiers, l.deleted_at, e.created_at, e.updated_at
  FROM screening.entities e
  JOIN screening.tenant_entities l ON l.entity_id = e.entity_id AND l.tenant_id = :tenantId!
 WHERE e.entity_id = :entityId! AND (l.deleted_at IS NULL OR :includeDeleted!::boolean);

/* @name EntityByIdRecorded */
-- EntityById writing its own data_accessed event in the same statement, only when it reveals a row (a
-- data-modifying CTE always runs): the personal read and its access record in one round trip.
WITH e AS (
  SELECT e.entity_id, e.entity_type, e.canonical_identifiers, l.deleted_at, e.created_at, e.updated_at
    FROM screening.entities e
    JOIN screening.tenant_entities l ON l.entity_id = e.entity_id AND l.tenant_id = :tenantId!
   WHERE e.entity_id = :entityId! AND (l.deleted_at IS NULL OR :includeDeleted!::boolean)
), recorded AS (
  INSERT INTO screening.audit_events (tenant_id, actor_id, event_type, correlation_id, entity_id, details)
  SELECT :tenantId!, :actorId, 'data_accessed', :correlationId!, e.entity_id, :details!::jsonb FROM e
  RETURNING event_id
)
SELECT e.* FROM e;

/* @name EntityRow */
-- One entity row by primary key, as stored (the owner sees every row; `app` only its tenant's). `make bench`
-- compares this lookup across clients.
SELECT * FROM screening.entities WHERE entity_id = :entityId!;

/* @name ResolveIdentifier */
-- Shared identity: the entity holding this identifier (blind index), whoever created it, linked to the caller's
-- tenant by screening.resolve_identifier() (SECURITY DEFINER: `app` cannot insert such a link itself).
SELECT screening.resolve_identifier(:kind!, :blindIndex!) AS entity_id;

/* @name LockEntity */
-- Serialises one tenant's writers of one entity (its profile versions) on the tenant's link row.
SELECT entity_id FROM screening.tenant_entities
 WHERE tenant_id = :tenantId! AND entity_id = :entityId! AND deleted_at IS NULL FOR NO KEY UPDATE;

/* @name SoftDeleteEntity */
-- The tenant stops using the entity; identifiers stay (shared identity).
UPDATE screening.tenant_entities SET deleted_at = now()
 WHERE tenant_id = :tenantId! AND entity_id = :entityId! AND deleted_at IS NULL
RETURNING entity_id, deleted_at AS "deleted_at!";

/* @name RestoreEntity */
UPDATE screening.tenant_entities SET deleted_at = NULL
 WHERE tenant_id = :tenantId! AND entity_id = :entityId! AND deleted_at IS NOT NULL
RETURNING entity_id;

/* @name EntityForUpdate */
-- updateEntity's first step: the entity, locked (FOR NO KEY UPDATE) until the transaction ends, when the tenant
-- uses it and has not deleted it (screening.entity_for_update: `app` holds no UPDATE on entities to lock it).
SELECT entity_id AS "entity_id!", entity_type AS "entity_type!", canonical_identifiers AS "canonical_identifiers!",
       created_at AS "created_at!", updated_at AS "updated_at!"
  FROM screening.entity_for_update(:entityId!);

/* @name SetEntityIdentifiers */
-- updateEntity's second step, through screening.set_entity_identifiers (`app` may not change identifiers by
-- hand): the blind indexes of the kinds set are replaced and those of the kinds removed dropped, with the new
-- ciphertext; an identifier another entity holds fails on entity_identifiers_pkey. NULL: not the tenant's to change.
SELECT screening.set_entity_identifiers(:entityId!, :canonicalIdentifiers!, :identifierKinds!::text[], :blindIndexes!::bytea[], :removedKinds!::text[])
       AS updated_at;

/* @name LockEntityForErasure */
-- Platform only: the entity exists, and no one else changes it until the erasure commits.
SELECT entity_id FROM screening.entities WHERE entity_id = :entityId! FOR UPDATE;

/* @name EraseEntity */
-- Platform only (owner connection): writes entity_erased into each affected tenant's trail, then deletes
-- the entity; profiles, relations, cached data, identifiers and links go with it (ON DELETE CASCADE).
SELECT tenant_id AS "tenant_id!", profiles AS "profiles!", relations AS "relations!", cached AS "cached!"
  FROM screening.erase_entity(:entityId!, :actorId, :correlationId!);

/* @name EntitiesNotUnderKey */
-- A batch of entities whose identifiers were encrypted with another key than activeKeyId (the key id
-- sits in the ciphertext header: byte 1 is its length, the id follows).
-- explain: seq-scan-ok key rotation is a batch job that must look at every row.
SELECT entity_id, canonical_identifiers FROM screening.entities
 WHERE convert_from(substring(canonical_identifiers FROM 3 FOR get_byte(canonical_identifiers, 1)), 'SQL_ASCII') <> :activeKeyId!
 ORDER BY entity_id
 LIMIT :limit!;

/* @name SetEntityCiphertext */
UPDATE screening.entities SET canonical_identifiers = :ciphertext! WHERE entity_id = :entityId!;
