/* Bulk loading of screening entities (src/screening/bulk.ts). The fast path is COPY (src/db/copy.ts);
   these are its companions: ids made up front, the embedded engine's fallback, the audit rows, and the
   multi-row VALUES form that `make bench` compares with COPY. */

/* @name NewEntityIds */
-- Ids are made first so each entity's encrypted identifiers can be bound to it (AAD).
SELECT core.uuidv7() AS "entity_id!" FROM generate_series(1, :count!::int);

/* @name InsertEntitiesUnnest */
-- Where COPY FROM STDIN is unavailable (the embedded engine): one statement per batch, one array per column.
INSERT INTO screening.entities (entity_id, entity_type, canonical_identifiers)
SELECT * FROM unnest(:entityIds!::uuid[], :entityTypes!::screening.entity_type[], :canonicalIdentifiers!::bytea[]);

/* @name InsertIdentifiersUnnest */
-- Where COPY FROM STDIN is unavailable (the embedded engine): blind indexes, one array per column.
INSERT INTO screening.entity_identifiers (identifier_kind, blind_index, entity_id)
SELECT * FROM unnest(:identifierKinds!::text[], :blindIndexes!::bytea[], :entityIds!::uuid[]);

/* @name LinkEntitiesUnnest */
-- The loading tenant uses every entity of a bulk load.
INSERT INTO screening.tenant_entities (tenant_id, entity_id)
SELECT :tenantId!, e FROM unnest(:entityIds!::uuid[]) AS e;

/* @name InsertEntityCreatedEvents */
-- One entity_created audit event per entity of a bulk load (audit_events has RLS, which COPY refuses).
INSERT INTO screening.audit_events (tenant_id, actor_id, event_type, correlation_id, entity_id, details)
SELECT :tenantId!, :actorId, 'entity_created', :correlationId!, e.entity_id, e.details::jsonb
  FROM unnest(:entityIds!::uuid[], :details!::text[]) AS e (entity_id, details);

/*
  @name InsertEntitiesValues
  @param rows -> ((entityId!, entityType!, canonicalIdentifiers!)...)
*/
-- Multi-row VALUES: one bind parameter per row and column (at most 65,535 per statement).
INSERT INTO screening.entities (entity_id, entity_type, canonical_identifiers) VALUES :rows;
