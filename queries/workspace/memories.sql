/* Memories (workspace.memories, message_memory_usage): private to one user (RLS on app.user_id). */

/* @name InsertMemory */
INSERT INTO workspace.memories (user_id, content, title, memory_type, source, source_id, tags, metadata, conversation_id)
VALUES (:userId!, :content!, :title, coalesce(:memoryType, 'note'), coalesce(:source, 'manual'), :sourceId,
        coalesce(:tags::text[], '{}'), coalesce(:metadata::jsonb, '{}'::jsonb), :conversationId)
RETURNING id, user_id, content, title, memory_type, source, source_id, tags, metadata, embedding_status,
          embedding_model, embedding_updated_at, conversation_id, created_at, updated_at, accessed_at, deleted_at;

/* @name GetMemory */
SELECT id, user_id, content, title, memory_type, source, source_id, tags, metadata, embedding_status,
       embedding_model, embedding_updated_at, conversation_id, created_at, updated_at, accessed_at, deleted_at
  FROM workspace.memories WHERE id = :id! AND deleted_at IS NULL;

/* @name SetEmbedding */
-- A NULL embedding with status failed/pending/processing records progress; completed requires the vector (CHECK).
UPDATE workspace.memories
   SET embedding = :embedding::vector, embedding_status = :status!, embedding_model = :model,
       embedding_updated_at = CASE WHEN :embedding::vector IS NULL THEN embedding_updated_at ELSE now() END
 WHERE id = :id! AND deleted_at IS NULL
RETURNING id, embedding_status, embedding_model, embedding_updated_at;

/* @name SemanticSearch */
-- Top-k live memories of one user by cosine distance (HNSW idx_memories_embedding), optionally only those
-- carrying every tag given. The inner query may come back slightly out of order under
-- hnsw.iterative_scan = relaxed_order, so the outer query sorts the k rows exactly.
WITH hits AS MATERIALIZED (
  SELECT id, title, content, memory_type, tags, metadata, created_at, embedding <=> :embedding!::vector AS distance
    FROM workspace.memories
   WHERE user_id = :userId! AND deleted_at IS NULL AND embedding IS NOT NULL
     AND (:tags::text[] IS NULL OR tags @> :tags::text[])
   ORDER BY embedding <=> :embedding!::vector
   LIMIT :k!
)
SELECT id, title, content, memory_type, tags, metadata, created_at, distance AS "distance!" FROM hits ORDER BY distance, id;

/* @name KeywordSearch */
-- Full-text search over live memories (memories_content_search_idx), best rank first.
SELECT id, title, content, memory_type, tags, created_at,
       ts_rank(to_tsvector('english', coalesce(title, '') || ' ' || content), websearch_to_tsquery('english', :query!)) AS "rank!"
  FROM workspace.memories
 WHERE deleted_at IS NULL AND user_id = :userId!
   AND to_tsvector('english', coalesce(title, '') || ' ' || content) @@ websearch_to_tsquery('english', :query!)
 ORDER BY 7 DESC, created_at DESC
 LIMIT :limit!;

/* @name SoftDeleteMemory */
UPDATE workspace.memories SET deleted_at = now() WHERE id = :id! AND deleted_at IS NULL RETURNING id, deleted_at;

/* @name TouchMemories */
-- Mark memories as accessed (returned to the user or used by the assistant).
UPDATE workspace.memories SET accessed_at = now() WHERE id = ANY(:ids!::uuid[]) AND deleted_at IS NULL;

/*
  @name RecordMemoryUsage
  @param uses -> ((messageId!, memoryId!, relevanceScore)...)
*/
INSERT INTO workspace.message_memory_usage (message_id, memory_id, relevance_score)
VALUES :uses
RETURNING *;

/* @name MemoryUsageForMessage */
SELECT u.memory_id, u.relevance_score, m.title, m.content
  FROM workspace.message_memory_usage u
  JOIN workspace.memories m ON m.id = u.memory_id
 WHERE u.message_id = :messageId!
 ORDER BY u.relevance_score DESC NULLS LAST, u.memory_id;
