/**
 * The seed's indexes are there and serve the lookups they were made for: EXPLAIN ANALYZE of each lookup
 * names the index. On a test-sized table the planner rightly prefers a sequential scan, so the checks run
 * with enable_seqscan = off: that proves the index CAN serve the query (right columns, operator class,
 * expression and predicate), which is what breaks when a query and its index drift apart.
 * The plain lookups run as the owner (RLS off), as a DBA would check them: as `app`, the RLS predicate
 * (user_id / organization_id) offers the planner its own index, and on small tables it takes that one.
 * Semantic search runs as `app` with the service's exact query shape, and enable_sort = off as well: the
 * planner's honest choice for a user with few memories is the user_id index plus an exact sort (cheaper
 * and exact); with many memories per user it switches to HNSW. `make bench` measures that case.
 */
import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { useTestDb } from "../support/db";
import { seedWorld, type World } from "./fixtures";

const t = useTestDb();
const q = async <T = Record<string, unknown>>(sql: string, params: unknown[] = []) => (await t.db.pool.query(sql, params)).rows as T[];
let w: World;

interface PlanNode {
  "Node Type": string;
  "Index Name"?: string;
  "Relation Name"?: string;
  Plans?: PlanNode[];
}
const indexesOf = (n: PlanNode): string[] => [...(n["Index Name"] ? [n["Index Name"]] : []), ...(n.Plans ?? []).flatMap(indexesOf)];
const relationsOf = (n: PlanNode): string[] => [...(n["Relation Name"] ? [n["Relation Name"]] : []), ...(n.Plans ?? []).flatMap(relationsOf)];

/** EXPLAIN ANALYZE the statement as the owner, or as `app` inside the seeded organisation acting as its first user. */
async function plan(sql: string, params: unknown[] = [], settings: Record<string, string> = {}, asApp = false): Promise<PlanNode> {
  const run = <T>(fn: (c: pg.PoolClient) => Promise<T>) => (asApp ? t.db.tenant({ tenantId: w.org, userId: w.user }, fn) : t.db.transaction(fn));
  return run(async (c) => {
    await c.query("SELECT set_config('enable_seqscan', 'off', true)");
    for (const [k, v] of Object.entries(settings)) await c.query("SELECT set_config($1, $2, true)", [k, v]);
    const { rows } = await c.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params);
    return (rows[0]["QUERY PLAN"] as { Plan: PlanNode }[])[0]!.Plan;
  });
}

const query = `[${Array.from({ length: 1536 }, (_, i) => (i % 7 === 0 ? 0.5 : 0.01)).join(",")}]`;

beforeAll(async () => {
  w = await seedWorld(q);
  // A few hundred memories with embeddings for the user, so the HNSW graph has layers to walk.
  await q(
    `INSERT INTO workspace.memories (user_id, content, tags, embedding, embedding_status)
     SELECT $1, 'memory ' || g, ARRAY['t' || (g % 10)], (SELECT array_agg(sin(g * d))::vector FROM generate_series(1, 1536) d), 'completed'
       FROM generate_series(1, 300) g`,
    [w.user],
  );
  await q("ANALYZE workspace.memories");
});

describe("seed indexes serve their lookups (EXPLAIN ANALYZE)", () => {
  it("semantic search uses the HNSW index idx_memories_embedding, with the service's exact query shape", async () => {
    const p = await plan(
      `WITH hits AS MATERIALIZED (
         SELECT id, embedding <=> $2::vector AS distance FROM workspace.memories
          WHERE user_id = $1 AND deleted_at IS NULL AND embedding IS NOT NULL AND ($3::text[] IS NULL OR tags @> $3::text[])
          ORDER BY embedding <=> $2::vector LIMIT 10)
       SELECT * FROM hits ORDER BY distance, id`,
      [w.user, query, null],
      { "hnsw.ef_search": "40", "hnsw.iterative_scan": "relaxed_order", enable_sort: "off" },
      true,
    );
    expect(indexesOf(p)).toContain("idx_memories_embedding");
  });

  it.each([
    ["idx_users_email", "SELECT * FROM workspace.users WHERE lower(email) = lower('A@x.io')"],
    ["idx_users_org", "SELECT id FROM workspace.users WHERE organization_id = '00000000-0000-7000-8000-000000000000'"],
    ["idx_sessions_token", "SELECT * FROM workspace.sessions WHERE token_hash = repeat('a', 64)"],
    ["idx_sessions_expires", "SELECT id FROM workspace.sessions WHERE expires_at < now() - interval '1 day'"],
    ["idx_memories_tags", "SELECT id FROM workspace.memories WHERE tags @> '{t3}'"],
    ["idx_memories_metadata", "SELECT id FROM workspace.memories WHERE metadata @> '{\"k\": 1}'"],
    ["idx_memories_type", "SELECT id FROM workspace.memories WHERE memory_type = 'fact'"],
    ["idx_memories_source", "SELECT id FROM workspace.memories WHERE source = 'gmail'"],
    ["idx_memories_created", "SELECT id FROM workspace.memories ORDER BY created_at DESC LIMIT 5"],
    [
      "memories_content_search_idx",
      "SELECT id FROM workspace.memories WHERE deleted_at IS NULL AND to_tsvector('english', coalesce(title, '') || ' ' || content) @@ websearch_to_tsquery('english', 'memory')",
    ],
    [
      "idx_messages_conversation",
      "SELECT id FROM workspace.messages WHERE conversation_id = '00000000-0000-7000-8000-000000000000' ORDER BY created_at DESC LIMIT 50",
    ],
    ["idx_messages_content_search", "SELECT id FROM workspace.messages WHERE to_tsvector('english', content) @@ websearch_to_tsquery('english', 'hello')"],
    ["idx_participants_user", "SELECT conversation_id FROM workspace.conversation_participants WHERE user_id = '00000000-0000-7000-8000-000000000000'"],
    ["idx_tasks_due_date", "SELECT id FROM workspace.tasks WHERE due_date BETWEEN current_date AND current_date + 7"],
    ["idx_tasks_status", "SELECT id FROM workspace.tasks WHERE status = 'in_progress'"],
    [
      "idx_gmail_search",
      "SELECT id FROM workspace.gmail_messages WHERE to_tsvector('english', coalesce(subject, '') || ' ' || left(coalesce(body_text, ''), 100000)) @@ websearch_to_tsquery('english', 'invoice')",
    ],
    ["idx_gmail_received", "SELECT id FROM workspace.gmail_messages ORDER BY received_at DESC LIMIT 20"],
    ["idx_calendar_time", "SELECT id FROM workspace.calendar_events WHERE start_time >= now() AND start_time < now() + interval '1 day'"],
    ["idx_drive_name", "SELECT id FROM workspace.drive_files WHERE name = 'a.txt'"],
    ["idx_entities_name", "SELECT id FROM workspace.entities WHERE name = 'Ada'"],
    [
      "idx_entity_mentions_source",
      "SELECT id FROM workspace.entity_mentions WHERE source_type = 'memory' AND source_id = '00000000-0000-7000-8000-000000000000'",
    ],
    ["idx_notifications_unread", "SELECT id FROM workspace.notifications WHERE user_id = '00000000-0000-7000-8000-000000000000' AND is_read = false"],
    ["idx_devices_active", "SELECT id FROM workspace.devices WHERE is_active = true"],
    ["idx_integrations_status", "SELECT id FROM workspace.integrations WHERE status = 'error'"],
    ["idx_user_roles_role", "SELECT user_id FROM workspace.user_roles WHERE role_id = '00000000-0000-7000-8000-000000000000'"],
    ["idx_templates_type", "SELECT id FROM workspace.document_templates WHERE document_type = 'report'"],
    ["idx_documents_type", "SELECT id FROM workspace.documents WHERE document_type = 'report'"],
  ])("%s", async (index, sql) => {
    expect(indexesOf(await plan(sql))).toContain(index);
  });

  it("an audit query for one month, as app, reads one monthly partition (pruning) through its organisation index", async () => {
    await t.db.tenant({ tenantId: w.org, userId: w.user }, (c) =>
      c.query("INSERT INTO workspace.audit_logs (organization_id, action) VALUES ($1, 'memory.created')", [w.org]),
    );
    const p = await plan(
      `SELECT * FROM workspace.audit_logs WHERE organization_id = $1
         AND "timestamp" >= date_trunc('month', now()) AND "timestamp" < date_trunc('month', now()) + interval '1 month'
       ORDER BY "timestamp" DESC LIMIT 100`,
      [w.org],
      {},
      true,
    );
    const parts = [...new Set(relationsOf(p))];
    expect(parts).toHaveLength(1);
    expect(parts[0]).toMatch(/^audit_logs_p\d{4}_\d{2}$/);
    expect(indexesOf(p).some((i) => i.includes("organization_id"))).toBe(true);
  });
});
