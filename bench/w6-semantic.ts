/**
 * Workload 6: semantic search on workspace.memories — top-10 latency and recall@10 against exact search,
 * at 20,000 embeddings of 1536 dimensions drawn from a low-dimensional latent space (uniform random vectors
 * make recall meaningless), for hnsw.ef_search 40 and 100, through the workspace service.
 *
 * Issue 16 adds the raw pgvector SQL on the same data in the same run: BEGIN, SET LOCAL hnsw.ef_search,
 * the ORDER BY embedding <=> $1 LIMIT 10 query, COMMIT, as the table owner (no RLS, no validation, no
 * accessed_at update). The service searches as `app` under RLS, validates the 1,536 numbers, honours the
 * user's preferences and moves accessed_at of what it returns (so it commits durably): the user here allows
 * 10 memories per request (the default is 5).
 *
 * Rows are loaded with the COPY path (src/db/copy.ts, vector column) before the HNSW index exists; the index
 * is then built as the migration defines it, with maintenance_work_mem 512MB (SET LOCAL).
 */
import crypto from "node:crypto";
import type pg from "pg";
import { copyRows, copyTable } from "../src/db/copy";
import { semanticSearchMemories } from "../src/workspace/memories";
import { workspaceContext } from "../src/workspace/context";
import type { BenchContext } from "./context";
import { progressLine, ratio, type ResultRow, summarise } from "./harness";

const DIM = 1536;
const LATENT = 24;

/** Standard normal via Box-Muller, from a seeded generator (mulberry32) so runs are comparable. */
function gaussian(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform() || 1e-12)) * Math.cos(2 * Math.PI * uniform());
}

/** x = z W + small noise, z ~ N(0, I_LATENT): embeddings that cluster like real ones. */
function latentSpace(seed: number) {
  const g = gaussian(seed);
  const w = Array.from({ length: LATENT }, () => Float32Array.from({ length: DIM }, () => g()));
  return () => {
    const x = new Float32Array(DIM);
    for (let j = 0; j < LATENT; j++) {
      const z = g();
      const row = w[j] as Float32Array;
      for (let d = 0; d < DIM; d++) (x[d] as number) += z * (row[d] as number);
    }
    for (let d = 0; d < DIM; d++) (x[d] as number) += 0.1 * g();
    return x;
  };
}

interface MemoryRow {
  userId: string;
  content: string;
  embedding: Float32Array;
  embeddingStatus: string;
  embeddingModel: string;
}

const vectorText = (v: ArrayLike<number>) => `[${Array.from(v).join(",")}]`;

const MEMORIES = copyTable<MemoryRow>(
  "workspace.memories",
  {
    userId: { column: "user_id", type: "uuid" },
    content: { column: "content", type: "text" },
    embedding: { column: "embedding", type: "vector" },
    embeddingStatus: { column: "embedding_status", type: "text" },
    embeddingModel: { column: "embedding_model", type: "text" },
  },
  {
    // The embedded engine cannot COPY FROM STDIN: a bench-only multi-row insert instead.
    fallbackBatch: 200,
    fallback: (rows, c) =>
      c.query(
        `INSERT INTO workspace.memories (user_id, content, embedding, embedding_status, embedding_model)
         SELECT $1, u.content, u.embedding::vector, 'completed', 'bench-latent' FROM unnest($2::text[], $3::text[]) AS u (content, embedding)`,
        [rows[0]?.userId, rows.map((r) => r.content), rows.map((r) => vectorText(r.embedding))],
      ),
  },
);

export async function semanticWorkload(b: BenchContext): Promise<ResultRow[]> {
  const W = "6 semantic search top-10";
  const p = progressLine(W);
  const N = b.quick ? 300 : b.kind === "server" ? 20_000 : 2_000;
  const QUERIES = b.quick ? 5 : 100;
  const embed = latentSpace(42);

  const one = async <T>(sql: string, values: unknown[] = []) => (await b.plain.query(sql, values)).rows[0] as T;
  const slug = `bench-${crypto.randomBytes(4).toString("hex")}`;
  const org = await one<{ id: string }>("INSERT INTO workspace.organizations (name, slug) VALUES ('Bench', $1) RETURNING id", [slug]);
  const user = await one<{ id: string }>("INSERT INTO workspace.users (organization_id, email) VALUES ($1, $2) RETURNING id", [
    org.id,
    `${slug}@bench.invalid`,
  ]);
  await b.plain.query("INSERT INTO workspace.user_preferences (user_id, max_memories_per_request) VALUES ($1, 10)", [user.id]);
  const indexDef = (await one<{ def: string }>("SELECT pg_get_indexdef('workspace.idx_memories_embedding'::regclass) AS def")).def;

  // Load without the index, then build it once (what a bulk import should do).
  await b.plain.query("DROP INDEX workspace.idx_memories_embedding");
  let loaded = 0;
  const rows = function* (): Generator<MemoryRow> {
    for (let i = 0; i < N; i++) {
      if (++loaded % 1000 === 0) p.update(`loading ${loaded.toLocaleString("en-US")}/${N.toLocaleString("en-US")} embeddings`);
      yield { userId: user.id, content: `memory ${i}`, embedding: embed(), embeddingStatus: "completed", embeddingModel: "bench-latent" };
    }
  };
  const loadStarted = performance.now();
  await b.db.transaction((c) => copyRows(c, MEMORIES, rows()));
  const loadMs = performance.now() - loadStarted;

  const mwm = b.kind === "server" ? "512MB" : "128MB";
  const buildStarted = performance.now();
  const ticker = setInterval(() => p.update(`building HNSW over ${N.toLocaleString("en-US")} x ${DIM} (maintenance_work_mem ${mwm})`), 1000);
  const c: pg.PoolClient = await b.plain.connect();
  try {
    await c.query("BEGIN");
    await c.query("SELECT set_config('maintenance_work_mem', $1, true)", [mwm]);
    await c.query(indexDef);
    await c.query("COMMIT");
    await c.query("ANALYZE workspace.memories");
  } finally {
    clearInterval(ticker);
    c.release();
  }
  const buildMs = performance.now() - buildStarted;

  const wctx = workspaceContext({ organizationId: org.id, userId: user.id });
  const queries = Array.from({ length: QUERIES }, () => Array.from(embed()));
  const exactIds: string[][] = [];
  const exactLat: number[] = [];
  for (const [i, q] of queries.entries()) {
    const t0 = performance.now();
    const ids = await b.db.transaction(async (cl) => {
      await cl.query("SELECT set_config('enable_indexscan', 'off', true)", []);
      const r = await cl.query<{ id: string }>(
        "SELECT id FROM workspace.memories WHERE user_id = $1 AND deleted_at IS NULL AND embedding IS NOT NULL ORDER BY embedding <=> $2::vector, id LIMIT 10",
        [user.id, vectorText(q)],
      );
      return r.rows.map((x) => x.id);
    });
    exactLat.push(performance.now() - t0);
    exactIds.push(ids);
    if (i % 10 === 0) p.update(`exact search ${i}/${QUERIES}`);
  }
  const ann = async (ef: number) => {
    const lat: number[] = [];
    let hits = 0;
    for (const [i, q] of queries.entries()) {
      const t0 = performance.now();
      const found = await semanticSearchMemories(b.db, wctx, { embedding: q, k: 10, efSearch: ef });
      lat.push(performance.now() - t0);
      const truth = new Set(exactIds[i]);
      hits += found.filter((h) => truth.has(h.id)).length;
      if (i % 10 === 0) p.update(`ef_search ${ef}: ${i}/${QUERIES}`);
    }
    return { ...summarise(`ef${ef}`, lat), recall: hits / (10 * QUERIES) };
  };
  const raw = async (ef: number) => {
    const lat: number[] = [];
    let hits = 0;
    for (const [i, q] of queries.entries()) {
      const t0 = performance.now();
      const cl = await b.plain.connect();
      let ids: string[];
      try {
        await cl.query("BEGIN");
        await cl.query(`SET LOCAL hnsw.ef_search = ${ef}`);
        const r = await cl.query<{ id: string }>(
          "SELECT id FROM workspace.memories WHERE user_id = $1 AND deleted_at IS NULL AND embedding IS NOT NULL ORDER BY embedding <=> $2::vector LIMIT 10",
          [user.id, vectorText(q)],
        );
        await cl.query("COMMIT");
        ids = r.rows.map((x) => x.id);
      } finally {
        cl.release();
      }
      lat.push(performance.now() - t0);
      const truth = new Set(exactIds[i]);
      hits += ids.filter((id) => truth.has(id)).length;
      if (i % 10 === 0) p.update(`raw pgvector ef_search ${ef}: ${i}/${QUERIES}`);
    }
    return { ...summarise(`raw${ef}`, lat), recall: hits / (10 * QUERIES) };
  };
  const ef40 = await ann(40);
  const raw40 = await raw(40);
  const ef100 = await ann(100);
  const exact = summarise("exact", exactLat);
  p.done();
  const note = `${N.toLocaleString("en-US")} x ${DIM}-d from a ${LATENT}-d latent space, ${QUERIES} queries`;
  return [
    {
      workload: W,
      contender: "exact (sequential scan, enable_indexscan off)",
      p50Ms: exact.p50,
      p99Ms: exact.p99,
      note: `recall 1.00 by definition; ${note}`,
    },
    ...[
      [40, ef40],
      [100, ef100],
    ].map(([ef, r]) => {
      const m = r as typeof ef40;
      return {
        workload: W,
        contender: `ours: semanticSearchMemories, HNSW ef_search ${ef}`,
        p50Ms: m.p50,
        p99Ms: m.p99,
        ratios: { "recall@10": m.recall, "x exact time": ratio(m.p50, exact.p50), ...(ef === 40 ? { "x raw pgvector": ratio(m.p50, raw40.p50) } : {}) },
        note: `recall@10 ${m.recall.toFixed(3)}${ef === 40 ? "; goal <= 1.2x raw pgvector at the same recall, p50 <= 5 ms" : ""}`,
      };
    }),
    {
      workload: W,
      contender: "raw pgvector SQL (owner: BEGIN, SET LOCAL hnsw.ef_search 40, ORDER BY <=> LIMIT 10, COMMIT)",
      p50Ms: raw40.p50,
      p99Ms: raw40.p99,
      ratios: { "recall@10": raw40.recall, "x exact time": ratio(raw40.p50, exact.p50) },
      note: `recall@10 ${raw40.recall.toFixed(3)}; 4 round trips, no RLS, no validation, no accessed_at update`,
    },
    {
      workload: W,
      contender: "load (COPY) + HNSW build",
      p50Ms: loadMs + buildMs,
      note: `load ${(loadMs / 1000).toFixed(1)} s${b.kind === "server" ? " (COPY binary)" : " (embedded: INSERT fallback)"}, build ${(buildMs / 1000).toFixed(1)} s (m 16, ef_construction 64, maintenance_work_mem ${mwm})`,
    },
  ];
}
