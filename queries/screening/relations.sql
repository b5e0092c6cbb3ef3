/* Relations between entities (screening.entity_relations), each owned by the tenant that discovered it.
   Graph reads follow the tenant's own relations and skip entities the tenant soft-deleted. */

/* @name InsertRelation */
INSERT INTO screening.entity_relations (tenant_id, from_entity_id, to_entity_id, relation_type, confidence_score, discovered_in_screening)
VALUES (:tenantId!, :fromEntityId!, :toEntityId!, :relationType!, :confidenceScore!, :discoveredInScreening)
RETURNING *;

/* @name Neighbours */
SELECT r.relation_id, r.relation_type, r.confidence_score,
       CASE WHEN r.from_entity_id = :entityId! THEN r.to_entity_id ELSE r.from_entity_id END AS "entity_id!",
       (r.from_entity_id = :entityId!) AS "outgoing!"
  FROM screening.entity_relations r
 WHERE r.tenant_id = :tenantId! AND (r.from_entity_id = :entityId! OR r.to_entity_id = :entityId!)
   AND EXISTS (SELECT FROM screening.tenant_entities l
                WHERE l.tenant_id = :tenantId! AND l.deleted_at IS NULL
                  AND l.entity_id = CASE WHEN r.from_entity_id = :entityId! THEN r.to_entity_id ELSE r.from_entity_id END)
 ORDER BY r.confidence_score DESC, r.relation_id;

/* @name Connections */
WITH RECURSIVE walk (entity_id, depth, confidence, path) AS (
  SELECT :entityId!::uuid, 0, 1.0::double precision, ARRAY[:entityId!::uuid]
  UNION ALL
  SELECT nxt.entity_id, w.depth + 1, w.confidence * nxt.confidence_score, w.path || nxt.entity_id
    FROM walk w
    CROSS JOIN LATERAL (
      SELECT r.to_entity_id AS entity_id, r.confidence_score FROM screening.entity_relations r
       WHERE r.tenant_id = :tenantId! AND r.from_entity_id = w.entity_id
      UNION ALL
      SELECT r.from_entity_id, r.confidence_score FROM screening.entity_relations r
       WHERE r.tenant_id = :tenantId! AND r.to_entity_id = w.entity_id
    ) nxt
   WHERE w.depth < :maxDepth!::integer AND NOT nxt.entity_id = ANY (w.path)
     AND EXISTS (SELECT FROM screening.tenant_entities l WHERE l.tenant_id = :tenantId! AND l.entity_id = nxt.entity_id AND l.deleted_at IS NULL)
)
SELECT entity_id AS "entity_id!", min(depth) AS "depth!", max(confidence) AS "confidence!"
  FROM walk
 WHERE depth > 0
 GROUP BY entity_id
 ORDER BY 2, 3 DESC, 1;
