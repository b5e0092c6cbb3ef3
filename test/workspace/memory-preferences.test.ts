/**
 * Memory retrieval honours the user's preferences (issue 15, item 4), on both engines: memories of an
 * excluded type never come back from semantic or keyword search; max_memories_per_request caps k (and
 * limit); auto_include_memories turns off the assistant's automatic retrieval but not the user's own
 * searches; and each search marks exactly what it returns as accessed, in the same single statement.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { PreparingClient } from "../../src/db/pool";
import * as ws from "../../src/workspace";
import { useTestDb } from "../support/db";
import { cosineDistance, makeOrg, type Org, randomVector, rng } from "./fixtures";

const t = useTestDb();
let org: Org;
beforeAll(async () => {
  org = await makeOrg(t.db, 5, "prefs");
});
afterEach(() => {
  vi.restoreAllMocks();
});

const q = async <T = Record<string, unknown>>(sql: string, params: unknown[] = []) => (await t.db.pool.query(sql, params)).rows as T[];
const sorted = (a: string[]) => [...a].sort();

interface Mem {
  id: string;
  type: string;
  v: number[];
}

/** `perType` memories of each type for users[i], every one embedded and containing the word "orchid". */
async function seedMemories(i: number, types: string[], perType: number, seed: number): Promise<Mem[]> {
  const ctx = org.as(i);
  const next = rng(seed);
  const out: Mem[] = [];
  for (const type of types)
    for (let j = 0; j < perType; j++) {
      const v = randomVector(next);
      const m = await ws.createMemory(t.db, ctx, { content: `orchid ${type} number ${j}`, memoryType: type });
      await ws.setEmbedding(t.db, ctx, { id: m.id, status: "completed", embedding: v, model: "test-1536" });
      out.push({ id: m.id, type, v });
    }
  return out;
}

const nearest = (mems: Mem[], query: number[]) => [...mems].sort((a, b) => cosineDistance(query, a.v) - cosineDistance(query, b.v));

/** The statements a call sends (text and values), through the pool's client class. */
async function statementsOf<T>(fn: () => Promise<T>): Promise<{ result: T; statements: { text: string; values: unknown[] }[] }> {
  const statements: { text: string; values: unknown[] }[] = [];
  const original = PreparingClient.prototype.query;
  vi.spyOn(PreparingClient.prototype, "query").mockImplementation(function (this: PreparingClient, ...args: unknown[]) {
    const [config, values] = args;
    const text = typeof config === "string" ? config : (config as { text?: string }).text;
    if (text) statements.push({ text, values: Array.isArray(values) ? values : [] });
    return (original as (...a: unknown[]) => never).apply(this, args);
  });
  try {
    return { result: await fn(), statements };
  } finally {
    vi.restoreAllMocks();
  }
}

const OLD = new Date("2000-01-01T00:00:00Z");
const accessedAt = async (userId: string) =>
  new Map(
    (await q<{ id: string; accessed_at: Date }>("SELECT id, accessed_at FROM workspace.memories WHERE user_id = $1", [userId])).map((r) => [
      r.id,
      r.accessed_at,
    ]),
  );

describe("memory preferences in retrieval", () => {
  it("the queries' defaults for a user without a preferences row are user_preferences' column defaults", async () => {
    const d = await q<{ column_name: string; column_default: string }>(
      `SELECT column_name, column_default FROM information_schema.columns
        WHERE table_schema = 'workspace' AND table_name = 'user_preferences'
          AND column_name IN ('auto_include_memories', 'max_memories_per_request', 'excluded_memory_types')`,
    );
    expect(Object.fromEntries(d.map((r) => [r.column_name, r.column_default]))).toEqual({
      auto_include_memories: "true",
      max_memories_per_request: "5",
      excluded_memory_types: "'{}'::text[]",
    });
  });

  it("excluded memory types never come back from semantic or keyword search, whatever the query", async () => {
    const ctx = org.as(0);
    const mems = await seedMemories(0, ["note", "fact", "secret", "preference"], 5, 1);
    await ws.updatePreferences(t.db, ctx, { excludedMemoryTypes: ["secret", "preference"], maxMemoriesPerRequest: 100 });
    const allowed = mems.filter((m) => m.type === "note" || m.type === "fact");

    // Probing with an excluded memory's own vector (distance 0) still returns only the allowed ones, nearest first.
    for (const probe of mems.filter((m) => m.type === "secret" || m.type === "preference")) {
      for (const autoInclude of [false, true]) {
        const hits = await ws.semanticSearchMemories(t.db, ctx, { embedding: probe.v, k: 100, efSearch: 200, autoInclude });
        expect(hits.map((h) => h.id)).toEqual(nearest(allowed, probe.v).map((m) => m.id));
        expect(new Set(hits.map((h) => h.memory_type))).toEqual(new Set(["note", "fact"]));
      }
      const top3 = await ws.semanticSearchMemories(t.db, ctx, { embedding: probe.v, k: 3, efSearch: 200 });
      expect(top3.map((h) => h.id)).toEqual(
        nearest(allowed, probe.v)
          .slice(0, 3)
          .map((m) => m.id),
      );
    }

    const kw = await ws.keywordSearchMemories(t.db, ctx, { query: "orchid", limit: 200 });
    expect(sorted(kw.map((h) => h.id))).toEqual(sorted(allowed.map((m) => m.id)));
    // The type's own word is in the excluded memories' content: still nothing.
    expect(await ws.keywordSearchMemories(t.db, ctx, { query: "secret", limit: 200 })).toEqual([]);
    expect(await ws.keywordSearchMemories(t.db, ctx, { query: "preference OR secret", limit: 200 })).toEqual([]);

    // The exclusion is a preference, not a deletion: lifting it brings them back.
    await ws.updatePreferences(t.db, ctx, { excludedMemoryTypes: [] });
    expect((await ws.keywordSearchMemories(t.db, ctx, { query: "orchid", limit: 200 })).length).toBe(20);
    expect((await ws.semanticSearchMemories(t.db, ctx, { embedding: mems[10]!.v, k: 100, efSearch: 200 }))[0]?.id).toBe(mems[10]!.id);
  });

  it("max_memories_per_request caps k and limit: the column default 5 without a row, then 3, then 0", async () => {
    const ctx = org.as(1);
    const mems = await seedMemories(1, ["note"], 12, 2);
    const probe = randomVector(rng(99));
    const order = nearest(mems, probe).map((m) => m.id);

    // No preferences row: the default maximum, 5.
    expect((await ws.semanticSearchMemories(t.db, ctx, { embedding: probe, k: 10, efSearch: 200 })).map((h) => h.id)).toEqual(order.slice(0, 5));
    expect(await ws.keywordSearchMemories(t.db, ctx, { query: "orchid", limit: 10 })).toHaveLength(5);

    await ws.updatePreferences(t.db, ctx, { maxMemoriesPerRequest: 3 });
    expect((await ws.semanticSearchMemories(t.db, ctx, { embedding: probe, k: 10, efSearch: 200 })).map((h) => h.id)).toEqual(order.slice(0, 3));
    expect((await ws.semanticSearchMemories(t.db, ctx, { embedding: probe, k: 2, efSearch: 200 })).map((h) => h.id)).toEqual(order.slice(0, 2));
    expect(await ws.semanticSearchMemories(t.db, ctx, { embedding: probe, k: 10, autoInclude: true })).toHaveLength(3);
    expect(await ws.keywordSearchMemories(t.db, ctx, { query: "orchid", limit: 10 })).toHaveLength(3);
    expect(await ws.keywordSearchMemories(t.db, ctx, { query: "orchid", limit: 1 })).toHaveLength(1);

    await ws.updatePreferences(t.db, ctx, { maxMemoriesPerRequest: 0 });
    expect(await ws.semanticSearchMemories(t.db, ctx, { embedding: probe, k: 10 })).toEqual([]);
    expect(await ws.keywordSearchMemories(t.db, ctx, { query: "orchid", limit: 10 })).toEqual([]);
  });

  it("accessed_at moves for exactly the memories a search returns, in the one statement that searches", async () => {
    const ctx = org.as(2);
    const userId = org.users[2]!.id;
    const mems = await seedMemories(2, ["note"], 10, 3);
    const reset = () => q("UPDATE workspace.memories SET accessed_at = $2 WHERE user_id = $1", [userId, OLD]);

    const check = async (hits: { id: string; accessed_at: Date }[], statements: { text: string }[]) => {
      // One statement reads or writes the memories: the search, which also does the UPDATE.
      const touching = statements.filter((s) => /workspace\.memories/.test(s.text));
      expect(touching).toHaveLength(1);
      expect(touching[0]!.text).toMatch(/UPDATE workspace\.memories m SET accessed_at = now\(\)/);
      const after = await accessedAt(userId);
      const returned = new Set(hits.map((h) => h.id));
      for (const h of hits) {
        expect(after.get(h.id)!.getTime()).toBeGreaterThan(OLD.getTime());
        expect(after.get(h.id)).toEqual(h.accessed_at);
      }
      for (const m of mems.filter((x) => !returned.has(x.id))) expect(after.get(m.id)).toEqual(OLD);
    };

    await reset();
    const sem = await statementsOf(() => ws.semanticSearchMemories(t.db, ctx, { embedding: mems[0]!.v, k: 4, efSearch: 200 }));
    expect(sem.result).toHaveLength(4);
    expect(sem.result[0]!.id).toBe(mems[0]!.id);
    await check(sem.result, sem.statements);

    await reset();
    const kw = await statementsOf(() => ws.keywordSearchMemories(t.db, ctx, { query: "orchid", limit: 3 }));
    expect(kw.result).toHaveLength(3);
    await check(kw.result, kw.statements);

    // A search that returns nothing touches nothing.
    await reset();
    expect(await ws.keywordSearchMemories(t.db, ctx, { query: "tulip" })).toEqual([]);
    expect([...(await accessedAt(userId)).values()].every((d) => d.getTime() === OLD.getTime())).toBe(true);
  });

  it("auto_include_memories off: the assistant's automatic retrieval gets nothing and touches nothing; the user's own searches still work", async () => {
    const ctx = org.as(3);
    const userId = org.users[3]!.id;
    const mems = await seedMemories(3, ["note", "fact"], 3, 4);
    const probe = mems[0]!.v;

    // Default (no row): auto_include_memories is true.
    expect(await ws.semanticSearchMemories(t.db, ctx, { embedding: probe, k: 3, autoInclude: true })).toHaveLength(3);

    await ws.updatePreferences(t.db, ctx, { autoIncludeMemories: false });
    await q("UPDATE workspace.memories SET accessed_at = $2 WHERE user_id = $1", [userId, OLD]);
    expect(await ws.semanticSearchMemories(t.db, ctx, { embedding: probe, k: 3, autoInclude: true })).toEqual([]);
    expect([...(await accessedAt(userId)).values()].every((d) => d.getTime() === OLD.getTime())).toBe(true);

    const explicit = await ws.semanticSearchMemories(t.db, ctx, { embedding: probe, k: 3 });
    expect(explicit.map((h) => h.id)[0]).toBe(mems[0]!.id);
    expect(explicit).toHaveLength(3);
    expect(await ws.keywordSearchMemories(t.db, ctx, { query: "orchid" })).toHaveLength(5);

    await ws.updatePreferences(t.db, ctx, { autoIncludeMemories: true });
    expect(await ws.semanticSearchMemories(t.db, ctx, { embedding: probe, k: 3, autoInclude: true })).toHaveLength(3);
  });

  it("the searches run in read-write transactions now that they write (kind write, affects own, no audit record)", () => {
    for (const op of [ws.semanticSearchMemories, ws.keywordSearchMemories])
      expect(op.declaration).toMatchObject({ kind: "write", affects: "own", audit: "none", context: "user" });
  });

  it("semantic search with preferences still plans an HNSW scan of idx_memories_embedding (the service's statement, as app)", async () => {
    const userId = org.users[4]!.id;
    await q(
      `INSERT INTO workspace.memories (user_id, content, memory_type, embedding, embedding_status)
       SELECT $1, 'memory ' || g, CASE WHEN g % 4 = 0 THEN 'secret' ELSE 'note' END,
              (SELECT array_agg(sin(g * d))::vector FROM generate_series(1, 1536) d), 'completed'
         FROM generate_series(1, 300) g`,
      [userId],
    );
    await q("ANALYZE workspace.memories");
    await ws.updatePreferences(t.db, org.as(4), { excludedMemoryTypes: ["secret"], maxMemoriesPerRequest: 7 });
    const probe = Array.from({ length: 1536 }, (_, i) => (i % 7 === 0 ? 0.5 : 0.01));
    const { result, statements } = await statementsOf(() => ws.semanticSearchMemories(t.db, org.as(4), { embedding: probe, k: 20, efSearch: 40 }));
    expect(result).toHaveLength(7);
    expect(result.every((h) => h.memory_type === "note")).toBe(true);
    const search = statements.find((s) => /workspace\.memories/.test(s.text))!;

    interface PlanNode {
      "Index Name"?: string;
      Plans?: PlanNode[];
    }
    const indexesOf = (n: PlanNode): string[] => [...(n["Index Name"] ? [n["Index Name"]] : []), ...(n.Plans ?? []).flatMap(indexesOf)];
    const plan = await t.db.tenant({ tenantId: org.id, userId }, async (c) => {
      // As test/workspace/indexes.test.ts: on a test-sized table the planner rightly prefers the user_id
      // index plus an exact sort; with those off, the plan shows whether the HNSW index CAN serve the query.
      for (const [k, v] of Object.entries({ enable_seqscan: "off", enable_sort: "off", "hnsw.ef_search": "40", "hnsw.iterative_scan": "relaxed_order" }))
        await c.query("SELECT set_config($1, $2, true)", [k, v]);
      const { rows } = await c.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${search.text}`, search.values);
      return (rows[0]["QUERY PLAN"] as { Plan: PlanNode }[])[0]!.Plan;
    });
    expect(indexesOf(plan)).toContain("idx_memories_embedding");
  });
});
