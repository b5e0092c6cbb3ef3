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
-- The acting user's live memories nearest to :embedding by cosine distance (HNSW idx_memories_embedding),
-- optionally only those carrying every tag given, honouring the user's memory preferences, and marking
-- what it returns as accessed, all in this one statement:
--   prefs   the user's workspace.user_preferences row, or the column defaults when there is none
--           (auto_include_memories true, max_memories_per_request 5, excluded_memory_types '{}');
--   hits    the k nearest, never of an excluded memory_type; none at all for an automatic retrieval
--           (:autoInclude, the assistant attaching memories to a request) when auto_include_memories is
--           off. LIMIT stays the plain parameter :k so the planner costs the HNSW ordered scan for k rows;
--           under hnsw.iterative_scan = relaxed_order the scan continues past candidates the filters
--           reject, and may return them slightly out of order;
--   top     the hits sorted exactly, capped at least(k, max_memories_per_request);
--   touched accessed_at = now() for exactly those rows (one UPDATE, not one per row).
WITH prefs AS MATERIALIZED (
  SELECT coalesce(p.excluded_memory_types, '{}'::text[]) AS excluded,
         least(:k!::integer, coalesce(p.max_memories_per_request, 5)) AS cap,
         coalesce(p.auto_include_memories, true) AS auto_include
    FROM (VALUES (1)) AS one (x)
    LEFT JOIN workspace.user_preferences p ON p.user_id = :userId!
),
hits AS MATERIALIZED (
  SELECT id, title, content, memory_type, tags, metadata, created_at, embedding <=> :embedding!::vector AS distance
    FROM workspace.memories
   WHERE user_id = :userId! AND deleted_at IS NULL AND embedding IS NOT NULL
     AND (:tags::text[] IS NULL OR tags @> :tags::text[])
     AND NOT ARRAY[memory_type] <@ (SELECT excluded FROM prefs)
     AND (NOT :autoInclude!::boolean OR (SELECT auto_include FROM prefs))
   ORDER BY embedding <=> :embedding!::vector
   LIMIT :k!
),
top AS MATERIALIZED (
  SELECT * FROM hits ORDER BY distance, id LIMIT (SELECT cap FROM prefs)
),
touched AS (
  UPDATE workspace.memories m SET accessed_at = now() FROM top WHERE m.id = top.id RETURNING m.id, m.accessed_at
)
SELECT top.id, top.title, top.content, top.memory_type, top.tags, top.metadata, top.created_at, touched.accessed_at,
       top.distance AS "distance!"
  FROM top JOIN touched ON touched.id = top.id
 ORDER BY top.distance, top.id;

/* @name KeywordSearch */
-- Full-text search over the acting user's live memories (memories_content_search_idx), best rank first,
-- honouring the user's memory preferences and marking what it returns as accessed, in this one statement:
-- prefs as in SemanticSearch (column defaults when the user has no row); excluded memory types never
-- match; at most least(:limit, max_memories_per_request) rows; accessed_at = now() for exactly those rows.
WITH prefs AS MATERIALIZED (
  SELECT coalesce(p.excluded_memory_types, '{}'::text[]) AS excluded,
         least(:limit!::integer, coalesce(p.max_memories_per_request, 5)) AS cap
    FROM (VALUES (1)) AS one (x)
    LEFT JOIN workspace.user_preferences p ON p.user_id = :userId!
),
hits AS MATERIALIZED (
  SELECT id, title, content, memory_type, tags, created_at,
         ts_rank(to_tsvector('english', coalesce(title, '') || ' ' || content), websearch_to_tsquery('english', :query!)) AS rank
    FROM workspace.memories
   WHERE deleted_at IS NULL AND user_id = :userId!
     AND to_tsvector('english', coalesce(title, '') || ' ' || content) @@ websearch_to_tsquery('english', :query!)
     AND NOT ARRAY[memory_type] <@ (SELECT excluded FROM prefs)
   ORDER BY rank DESC, created_at DESC, id
   LIMIT (SELECT cap FROM prefs)
),
touched AS (
  UPDATE workspace.memories m SET accessed_at = now() FROM hits WHERE m.id = hits.id RETURNING m.id, m.accessed_at
)
SELECT hits.id, hits.title, hits.content, hits.memory_type, hits.tags, hits.created_at, touched.accessed_at, hits.rank AS "rank!"
  FROM hits JOIN touched ON touched.id = hits.id
 ORDER BY hits.rank DESC, hits.created_at DESC, hits.id;

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

/* @name EditMemory */
-- Fields left NULL keep their value. A new content or title sends the embedding back to pending and clears
-- it (vector, model, time) in this same statement: no search ever ranks the new text by the old vector.
UPDATE workspace.memories
   SET content = coalesce(:content, content),
       title = CASE WHEN :setTitle!::boolean THEN :title ELSE title END,
       tags = coalesce(:tags::text[], tags),
       embedding = CASE WHEN :reembed!::boolean THEN NULL ELSE embedding END,
       embedding_status = CASE WHEN :reembed!::boolean THEN 'pending' ELSE embedding_status END,
       embedding_model = CASE WHEN :reembed!::boolean THEN NULL ELSE embedding_model END,
       embedding_updated_at = CASE WHEN :reembed!::boolean THEN NULL ELSE embedding_updated_at END
 WHERE id = :id! AND deleted_at IS NULL
RETURNING id, user_id, content, title, memory_type, source, source_id, tags, metadata, embedding_status,
          embedding_model, embedding_updated_at, conversation_id, created_at, updated_at, accessed_at, deleted_at;
