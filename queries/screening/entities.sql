/* Entities with encrypted identifiers, and their blind indexes (screening.entities, entity_identifiers). */

/* @name InsertEntity */
INSERT INTO screening.entities (entity_id, entity_type, canonical_identifiers)
VALUES (:entityId!, :entityType!, :canonicalIdentifiers!)
RETURNING *;

/* @name NewEntityId */
-- The id is made first so the encrypted identifiers can be bound to it (AAD).
SELECT core.uuidv7() AS "entity_id!";

/*
  @name InsertIdentifiers
  @param rows -> ((identifierKind!, blindIndex!, entityId!)...)
*/
INSERT INTO screening.entity_identifiers (identifier_kind, blind_index, entity_id) VALUES :rows;

/* @name EntityById */
SELECT * FROM screening.entities WHERE entity_id = :entityId! AND (deleted_at IS NULL OR :includeDeleted!::boolean);

/* @name EntityByIdentifier */
SELECT e.* FROM screening.entity_identifiers i
  JOIN screening.entities e ON e.entity_id = i.entity_id
 WHERE i.identifier_kind = :kind! AND i.blind_index = :blindIndex! AND e.deleted_at IS NULL;

/* @name LockEntity */
-- Serialises writers of one entity (profile versioning) on its row.
SELECT entity_id FROM screening.entities WHERE entity_id = :entityId! AND deleted_at IS NULL FOR NO KEY UPDATE;

/* @name SoftDeleteEntity */
UPDATE screening.entities SET deleted_at = now() WHERE entity_id = :entityId! AND deleted_at IS NULL RETURNING entity_id, deleted_at AS "deleted_at!";

/* @name EraseEntity */
-- Hard erase: profiles, relations, cached data and identifiers go with it (ON DELETE CASCADE).
DELETE FROM screening.entities WHERE entity_id = :entityId! RETURNING entity_id;

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
