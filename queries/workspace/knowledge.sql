/* Knowledge graph (entities, entity_relationships, entity_mentions), private to one user. */

/* @name UpsertEntity */
-- Seen again: increment mention_count, move last_seen_at, merge aliases and metadata.
INSERT INTO workspace.entities AS e (user_id, entity_type, name, aliases, description, metadata)
VALUES (:userId!, :entityType!, :name!, coalesce(:aliases::text[], '{}'), :description, coalesce(:metadata::jsonb, '{}'::jsonb))
ON CONFLICT (user_id, entity_type, name) DO UPDATE SET
  mention_count = e.mention_count + 1,
  last_seen_at  = greatest(e.last_seen_at, now()),
  aliases       = ARRAY(SELECT DISTINCT a FROM unnest(e.aliases || excluded.aliases) AS a ORDER BY a),
  description   = coalesce(excluded.description, e.description),
  metadata      = e.metadata || excluded.metadata
RETURNING *;

/* @name InsertRelationship */
INSERT INTO workspace.entity_relationships (source_entity_id, target_entity_id, relationship_type, strength, context)
VALUES (:sourceEntityId!, :targetEntityId!, :relationshipType!, coalesce(:strength::float8, 0.5), :context)
RETURNING *;

/* @name InsertMention */
INSERT INTO workspace.entity_mentions (entity_id, source_type, source_id, context, position)
VALUES (:entityId!, :sourceType!, :sourceId!, :context, :position)
RETURNING *;

/* @name EntityNeighbours */
-- Entities linked to one entity in either direction, strongest first.
SELECT r.id AS relationship_id, r.relationship_type, r.strength, (r.source_entity_id = :entityId!) AS "outgoing!",
       e.id, e.entity_type, e.name
  FROM workspace.entity_relationships r
  JOIN workspace.entities e ON e.id = CASE WHEN r.source_entity_id = :entityId! THEN r.target_entity_id ELSE r.source_entity_id END
 WHERE r.source_entity_id = :entityId! OR r.target_entity_id = :entityId!
 ORDER BY r.strength DESC, e.name;

/* @name MentionsOf */
SELECT * FROM workspace.entity_mentions WHERE entity_id = :entityId! ORDER BY created_at, id;
