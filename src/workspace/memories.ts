/**
 * Memories: create with tags and metadata, embeddings, semantic (pgvector HNSW) and keyword search, soft
 * delete, and which memories a message used. Every memory is private to its user (RLS on app.user_id).
 */
import { z } from "zod";
import { many, one } from "../db/rows";
import { jsonRecord } from "../db/validate";
import { actingUser, operation, recordAudit, word } from "./context";
import { readableConversation } from "./conversations";
import type { IGetMemoryResult, ISemanticSearchResult } from "./queries/memories.queries";
import { sql } from "./sql";

export type Memory = IGetMemoryResult;
export const EMBEDDING_DIMENSIONS = 1536;

const tag = z.string().min(1).max(100);
export const embedding = z
  // pgvector stores float4: a component beyond ±3.4e38 overflows (22003, echoing the value) unless refused here.
  .array(z.number().refine((x) => Number.isFinite(Math.fround(x)), "must be a finite number within float4 range (|x| < 3.4e38)"))
  .length(EMBEDDING_DIMENSIONS, `must have ${EMBEDDING_DIMENSIONS} dimensions`);
const vectorLiteral = (v: number[]) => `[${v.join(",")}]`;
const id = z.object({ id: z.uuid() });

const memorySchema = z.object({
  content: z.string().min(1).max(50_000),
  title: z.string().max(500).optional(),
  memoryType: word.optional(),
  source: word.optional(),
  sourceId: z.string().max(255).optional(),
  tags: z.array(tag).max(100).optional(),
  metadata: jsonRecord.optional(),
  conversationId: z.uuid().optional(),
});
export type NewMemory = z.input<typeof memorySchema>;

/** A memory of the acting user; `conversationId` must be a conversation the user may read (readableConversation). */
export const createMemory = operation({
  name: "workspace.memory.create",
  input: memorySchema,
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "own",
  audit: "change",
  async run(p, { c, ctx }): Promise<Memory> {
    const userId = actingUser(ctx);
    if (p.conversationId) await readableConversation(c, p.conversationId, ctx);
    const m = await one(sql.memories.insertMemory, { userId, ...p, metadata: p.metadata && JSON.stringify(p.metadata) }, c);
    await recordAudit(c, ctx, {
      action: "memory.created",
      resourceType: "memory",
      resourceId: m.id,
      newValue: { memory_type: m.memory_type, source: m.source },
    });
    return m;
  },
});

/** One of the acting user's live memories. */
export const getMemory = operation({
  name: "workspace.memory.get",
  input: id,
  kind: "read",
  context: "user",
  reveals: "own",
  audit: "none",
  oneStatement: true,
  run: (p, { c }): Promise<Memory> => one(sql.memories.getMemory, p, c, "memory not found"),
});

const embeddingSchema = z.discriminatedUnion("status", [
  z.object({ id: z.uuid(), status: z.literal("completed"), embedding, model: z.string().min(1).max(100) }),
  z.object({ id: z.uuid(), status: z.enum(["pending", "processing", "failed"]), model: z.string().min(1).max(100).optional() }),
]);
export type EmbeddingUpdate = z.input<typeof embeddingSchema>;

/** Store a memory's embedding (status completed) or record progress (pending, processing, failed). */
export const setEmbedding = operation({
  name: "workspace.memory.embed",
  input: embeddingSchema,
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "nothing",
  audit: "none",
  run: (p, { c }) =>
    one(
      sql.memories.setEmbedding,
      { id: p.id, status: p.status, model: p.model, embedding: p.status === "completed" ? vectorLiteral(p.embedding) : null },
      c,
      "memory not found",
    ),
});

export type SemanticQuery = z.input<typeof semanticSearchMemories.declaration.input>;
export type SemanticHit = ISemanticSearchResult;

/**
 * The acting user's live memories nearest to `embedding` by cosine distance (HNSW index), optionally only
 * those carrying every tag given. `hnsw.iterative_scan = relaxed_order` (pgvector >= 0.8) lets the index scan
 * continue past its first candidates when the user, tag and type filters reject them, so a user with few
 * memories among many still gets k results.
 *
 * The user's memory preferences (workspace.user_preferences; its column defaults when the user has no row)
 * hold for every search: memories of an `excluded_memory_types` type never come back, and at most
 * `max_memories_per_request` do (k is capped: k 10 with a maximum of 3 returns 3; a maximum of 0 returns none).
 *
 * `auto_include_memories` (seed 003, "Memory settings" of user_preferences, default true) says whether the
 * assistant may attach relevant memories to a request on its own (RAG), as opposed to the user searching
 * them. The assistant's path passes `autoInclude: true`: with the setting off it gets no memories (and marks
 * none accessed). An explicit search (`autoInclude: false`, the default) ignores the setting, since turning
 * off automatic inclusion does not hide one's memories from oneself.
 *
 * What it returns is marked accessed (`accessed_at = now()`) in the same statement as the search, so the
 * operation is a write (of the user's own rows) and runs in a read-write transaction; no audit record, as for
 * any read of one's own memories.
 */
export const semanticSearchMemories = operation({
  name: "workspace.memory.search",
  input: z.object({
    embedding,
    k: z.number().int().min(1).max(100).default(10),
    tags: z.array(tag).max(20).optional(),
    /** HNSW candidate list size (pgvector hnsw.ef_search): higher = better recall, slower. */
    efSearch: z.number().int().min(1).max(1000).default(40),
    /** The assistant attaching memories to a request by itself (honours auto_include_memories), not a user's search. */
    autoInclude: z.boolean().default(false),
  }),
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "own",
  audit: "none",
  settings: (p) => hnswSettings(p.efSearch),
  async run(p, { c, ctx }): Promise<SemanticHit[]> {
    return many(
      sql.memories.semanticSearch,
      { userId: actingUser(ctx), embedding: vectorLiteral(p.embedding), k: p.k, tags: p.tags, autoInclude: p.autoInclude },
      c,
    );
  },
});

/** Transaction-local HNSW search settings: candidate list size and iterative index scans (sent with BEGIN). */
export const hnswSettings = (efSearch: number) => ({ "hnsw.ef_search": String(efSearch), "hnsw.iterative_scan": "relaxed_order" });

/**
 * Full-text search (English stemming, web-search syntax) over the acting user's live memories. Honours the
 * user's memory preferences like semantic search (excluded types never match; at most
 * `max_memories_per_request` results, whatever `limit` asks) and marks what it returns accessed in the same
 * statement. It is always a search the user asked for, so `auto_include_memories` does not apply.
 */
export const keywordSearchMemories = operation({
  name: "workspace.memory.keyword_search",
  input: z.object({ query: z.string().trim().min(1).max(1000), limit: z.number().int().min(1).max(200).default(20) }),
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "own",
  audit: "none",
  run: (p, { c, ctx }) => many(sql.memories.keywordSearch, { userId: actingUser(ctx), ...p }, c),
});

/**
 * Edit one of the acting user's live memories: content, title (null clears it) and tags; fields left out keep
 * their value. A new content or title sends the embedding back to pending and clears it (vector, model, time)
 * in the same statement, so no search ranks the new text by the old vector; a tags-only edit keeps it. Only
 * the memory's owner (RLS: another user's memory is not found).
 */
export const editMemory = operation({
  name: "workspace.memory.edit",
  input: id
    .extend({ content: z.string().min(1).max(50_000).optional(), title: z.string().max(500).nullable().optional(), tags: z.array(tag).max(100).optional() })
    .refine((m) => m.content !== undefined || m.title !== undefined || m.tags !== undefined, { path: ["content"], message: "nothing to change" }),
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "own",
  audit: "change",
  async run(p, { c, ctx }): Promise<Memory> {
    const reembed = p.content !== undefined || p.title !== undefined;
    const m = await one(
      sql.memories.editMemory,
      { id: p.id, content: p.content, setTitle: p.title !== undefined, title: p.title, tags: p.tags, reembed },
      c,
      "memory not found",
    );
    // The trail names what changed, never the text.
    const changed = (["content", "title", "tags"] as const).filter((k) => p[k] !== undefined);
    await recordAudit(c, ctx, {
      action: "memory.edited",
      resourceType: "memory",
      resourceId: m.id,
      newValue: { changed, embedding_status: m.embedding_status },
    });
    return m;
  },
});

/** Soft delete: the memory disappears from reads and searches; the row stays until the user is deleted. */
export const deleteMemory = operation({
  name: "workspace.memory.delete",
  input: id,
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx }): Promise<void> {
    await one(sql.memories.softDeleteMemory, p, c, "memory not found");
    await recordAudit(c, ctx, { action: "memory.deleted", resourceType: "memory", resourceId: p.id });
  },
});

/** Record which of the acting user's memories produced a message (RAG tracking) and mark them accessed. */
export const recordMemoriesUsed = operation({
  name: "workspace.memory.use",
  input: z.object({
    messageId: z.uuid(),
    memories: z
      .array(z.object({ memoryId: z.uuid(), relevanceScore: z.number().min(0).max(1).optional() }))
      .min(1)
      .max(100)
      .refine((a) => new Set(a.map((m) => m.memoryId)).size === a.length, "each memory at most once"),
  }),
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "own",
  audit: "none",
  async run(p, { c }) {
    const rows = await many(
      sql.memories.recordMemoryUsage,
      { uses: p.memories.map((m) => ({ messageId: p.messageId, memoryId: m.memoryId, relevanceScore: m.relevanceScore ?? null })) },
      c,
    );
    await many(sql.memories.touchMemories, { ids: p.memories.map((m) => m.memoryId) }, c);
    return rows;
  },
});

/** Which of the acting user's memories a message used, with their relevance. */
export const memoriesUsedBy = operation({
  name: "workspace.memory.usage",
  input: z.object({ messageId: z.uuid() }),
  kind: "read",
  context: "tenant",
  reveals: "own",
  audit: "none",
  oneStatement: true,
  run: (p, { c }) => many(sql.memories.memoryUsageForMessage, p, c),
});
