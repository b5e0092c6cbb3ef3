/**
 * Memories: create with tags and metadata, embeddings, semantic (pgvector HNSW) and keyword search, soft
 * delete, and which memories a message used. Every memory is private to its user (RLS on app.user_id).
 */
import type pg from "pg";
import { z } from "zod";
import type { Db } from "../db/connect";
import { NotFoundError } from "../db/errors";
import { jsonRecord } from "../db/validate";
import { actingUser, recordAudit, runField, runParsed, type WorkspaceContext, word } from "./context";
import { readableConversation } from "./conversations";
import {
  getMemory,
  type IGetMemoryResult,
  type IMemoryUsageForMessageResult,
  type ISemanticSearchResult,
  insertMemory,
  keywordSearch,
  memoryUsageForMessage,
  recordMemoryUsage,
  semanticSearch,
  setEmbedding as setEmbeddingQuery,
  softDeleteMemory,
  touchMemories,
} from "./queries/memories.queries";

export type Memory = IGetMemoryResult;
export const EMBEDDING_DIMENSIONS = 1536;

const tag = z.string().min(1).max(100);
export const embedding = z
  // pgvector stores float4: a component beyond ±3.4e38 overflows (22003, echoing the value) unless refused here.
  .array(z.number().refine((x) => Number.isFinite(Math.fround(x)), "must be a finite number within float4 range (|x| < 3.4e38)"))
  .length(EMBEDDING_DIMENSIONS, `must have ${EMBEDDING_DIMENSIONS} dimensions`);
const vectorLiteral = (v: number[]) => `[${v.join(",")}]`;

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
export async function createMemory(db: Db, ctx: WorkspaceContext, input: NewMemory): Promise<Memory> {
  return runParsed(db, ctx, "memory.create", memorySchema, input, async (p, c) => {
    const userId = actingUser(ctx);
    if (p.conversationId) await readableConversation(c, p.conversationId, ctx);
    const [m] = await insertMemory.run(
      {
        userId,
        content: p.content,
        title: p.title ?? null,
        memoryType: p.memoryType ?? null,
        source: p.source ?? null,
        sourceId: p.sourceId ?? null,
        tags: p.tags ?? null,
        metadata: p.metadata ? JSON.stringify(p.metadata) : null,
        conversationId: p.conversationId ?? null,
      },
      c,
    );
    await recordAudit(c, ctx, { action: "memory.created", resourceType: "memory", resourceId: m!.id, newValue: { memory_type: m!.memory_type, source: m!.source } });
    return m!;
  });
}

export async function getMemoryById(db: Db, ctx: WorkspaceContext, id: string): Promise<Memory> {
  return runField(db, ctx, "memory.get", "id", z.uuid(), id, async (memoryId, c) => {
    actingUser(ctx);
    const [m] = await getMemory.run({ id: memoryId }, c);
    if (!m) throw new NotFoundError("memory not found");
    return m;
  });
}

const embeddingSchema = z.discriminatedUnion("status", [
  z.object({ id: z.uuid(), status: z.literal("completed"), embedding, model: z.string().min(1).max(100) }),
  z.object({ id: z.uuid(), status: z.enum(["pending", "processing", "failed"]), model: z.string().min(1).max(100).optional() }),
]);
export type EmbeddingUpdate = z.input<typeof embeddingSchema>;

/** Store a memory's embedding (status completed) or record progress (pending, processing, failed). */
export async function setEmbedding(db: Db, ctx: WorkspaceContext, input: EmbeddingUpdate) {
  return runParsed(db, ctx, "memory.embed", embeddingSchema, input, async (p, c) => {
    actingUser(ctx);
    const [row] = await setEmbeddingQuery.run(
      { id: p.id, status: p.status, model: p.model ?? null, embedding: p.status === "completed" ? vectorLiteral(p.embedding) : null },
      c,
    );
    if (!row) throw new NotFoundError("memory not found");
    return row;
  });
}

const searchSchema = z.object({
  embedding,
  k: z.number().int().min(1).max(100).default(10),
  tags: z.array(tag).max(20).optional(),
  /** HNSW candidate list size (pgvector hnsw.ef_search): higher = better recall, slower. */
  efSearch: z.number().int().min(1).max(1000).default(40),
});
export type SemanticQuery = z.input<typeof searchSchema>;
export type SemanticHit = ISemanticSearchResult;

/**
 * The acting user's k live memories nearest to `embedding` by cosine distance (HNSW index), optionally only
 * those carrying every tag given. `hnsw.iterative_scan = relaxed_order` (pgvector >= 0.8) lets the index scan
 * continue past its first candidates when the user and tag filters reject them, so a user with few memories
 * among many still gets k results.
 */
export async function semanticSearchMemories(db: Db, ctx: WorkspaceContext, input: SemanticQuery): Promise<SemanticHit[]> {
  return runParsed(
    db,
    ctx,
    "memory.search",
    searchSchema,
    input,
    async (p, c) => {
      const userId = actingUser(ctx);
      await setHnswSearch(c, p.efSearch);
      return semanticSearch.run({ userId, embedding: vectorLiteral(p.embedding), k: p.k, tags: p.tags ?? null }, c);
    },
    { readOnly: true },
  );
}

/** Transaction-local HNSW search settings (SET LOCAL): candidate list size and iterative index scans. */
export async function setHnswSearch(c: pg.ClientBase, efSearch: number) {
  await c.query("SELECT set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)", [String(efSearch)]);
}

const keywordSchema = z.object({ query: z.string().trim().min(1).max(1000), limit: z.number().int().min(1).max(200).default(20) });

/** Full-text search (English stemming, web-search syntax) over the acting user's live memories. */
export async function keywordSearchMemories(db: Db, ctx: WorkspaceContext, input: z.input<typeof keywordSchema>) {
  return runParsed(db, ctx, "memory.search", keywordSchema, input, async (p, c) => keywordSearch.run({ userId: actingUser(ctx), ...p }, c), {
    readOnly: true,
  });
}

/** Soft delete: the memory disappears from reads and searches; the row stays until the user is deleted. */
export async function deleteMemory(db: Db, ctx: WorkspaceContext, id: string): Promise<void> {
  await runField(db, ctx, "memory.delete", "id", z.uuid(), id, async (memoryId, c) => {
    actingUser(ctx);
    const [row] = await softDeleteMemory.run({ id: memoryId }, c);
    if (!row) throw new NotFoundError("memory not found");
    await recordAudit(c, ctx, { action: "memory.deleted", resourceType: "memory", resourceId: memoryId });
  });
}

const usageSchema = z.object({
  messageId: z.uuid(),
  memories: z
    .array(z.object({ memoryId: z.uuid(), relevanceScore: z.number().min(0).max(1).optional() }))
    .min(1)
    .max(100)
    .refine((a) => new Set(a.map((m) => m.memoryId)).size === a.length, "each memory at most once"),
});

/** Record which of the acting user's memories produced a message (RAG tracking) and mark them accessed. */
export async function recordMemoriesUsed(db: Db, ctx: WorkspaceContext, input: z.input<typeof usageSchema>) {
  return runParsed(db, ctx, "memory.use", usageSchema, input, async (p, c) => {
    actingUser(ctx);
    const rows = await recordMemoryUsage.run(
      { uses: p.memories.map((m) => ({ messageId: p.messageId, memoryId: m.memoryId, relevanceScore: m.relevanceScore ?? null })) },
      c,
    );
    await touchMemories.run({ ids: p.memories.map((m) => m.memoryId) }, c);
    return rows;
  });
}

export async function memoriesUsedBy(db: Db, ctx: WorkspaceContext, messageId: string): Promise<IMemoryUsageForMessageResult[]> {
  return runField(db, ctx, "memory.usage", "messageId", z.uuid(), messageId, (id, c) => memoryUsageForMessage.run({ messageId: id }, c), { readOnly: true });
}
