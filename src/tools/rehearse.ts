/**
 * `make rehearse`: apply pending migrations to a throwaway copy seeded at production-like volume while a
 * read/write load runs against the tables they name, and report per migration what a DBA needs before
 * deploying it: duration, the table locks it took (mode and table) and what they block, the longest wait it
 * caused a load query, rows changed and tables rewritten. Exit non-zero when a migration made the load wait
 * longer than its budget (default: the migration's own lock_timeout, the wait it accepts for itself).
 *
 * How each figure is measured:
 * - locks: read on the migrating session itself just before the migration is marked as run (inside its
 *   transaction, so every lock it took is still held), plus, on a server, a poller sampling pg_locks for
 *   the migrating backend every few ms (locks a non-transactional migration takes and releases per
 *   statement, e.g. CREATE INDEX CONCURRENTLY's ShareUpdateExclusiveLock);
 * - rows changed: pg_stat_xact_user_tables of the migration's transaction (inserted, updated, deleted);
 * - rewrites: relfilenode of every table before and after (ALTER TABLE ... that rewrites, VACUUM FULL);
 * - waits: the load's own latency. Each load worker loops over the named tables: a read (a few rows) and a
 *   write (an UPDATE of one row setting a column to itself, rolled back: it takes the row and table locks
 *   a real write takes and fires the same triggers, and leaves the data as it was). The longest load query
 *   that overlapped the migration, minus the slowest one before it (the baseline), is the wait it caused.
 *
 * Server engine only for the load: PGlite serves every connection from one session, so a load there would
 * run inside the migration's transaction. On the embedded engine the rehearsal applies the migrations on a
 * seeded throwaway database and reports duration, locks held, rows changed and rewrites, without waits.
 */
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { seedVolume } from "./explain";
import { MIGRATIONS_DIR, migrate, migrationFiles, migrationState } from "./migrate";

export interface LockTaken {
  table: string;
  mode: string;
  /** What the mode stops a concurrent session from doing on that table. */
  blocks: "nothing" | "writes" | "reads and writes";
}

export interface MigrationRehearsal {
  name: string;
  durationMs: number;
  locks: LockTaken[];
  /** Rows inserted, updated or deleted by the migration, per table. */
  rowsChanged: { table: string; inserted: number; updated: number; deleted: number }[];
  /** Tables whose storage was rewritten (new relfilenode), with their row count afterwards. */
  rewritten: { table: string; rows: number }[];
  /** Tables the load ran against (those the migration names). */
  loadTables: string[];
  /** The longest wait the migration caused a load query (ms), null without a load (embedded engine). */
  longestWaitMs: number | null;
  /** The load's slowest query before the migration started (ms). */
  baselineMs: number | null;
  budgetMs: number;
  overBudget: boolean;
}

export interface RehearseOptions {
  /** A scratch database to work in: it is migrated to `baseCount`, seeded, then the rest is applied. */
  url: string;
  /** Migrations applied before the rehearsal (the live database's); the rest of `dir` are rehearsed. */
  baseCount: number;
  dir?: string;
  /** Seed volume (make explain's): 1 = 20,000 entities; 0 = no seeding. */
  scale?: number;
  /** Override each migration's budget (ms). */
  budgetMs?: number;
  /** false on the embedded engine (one session: no concurrent load). */
  concurrent: boolean;
  /** Load connections (default 4). */
  workers?: number;
  /** A domain's seed failed at the base schema (it stays partly seeded; the rehearsal goes on). */
  onSeedError?: (domain: string, e: Error) => void;
}

/** Lock modes that block a concurrent write (RowExclusiveLock) and a concurrent read (AccessShareLock). */
const BLOCKS_WRITES = new Set(["ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"]);
const blocks = (mode: string): LockTaken["blocks"] => (mode === "AccessExclusiveLock" ? "reads and writes" : BLOCKS_WRITES.has(mode) ? "writes" : "nothing");
const STRENGTH = [
  "AccessShareLock",
  "RowShareLock",
  "RowExclusiveLock",
  "ShareUpdateExclusiveLock",
  "ShareLock",
  "ShareRowExclusiveLock",
  "ExclusiveLock",
  "AccessExclusiveLock",
];

/** The lock_timeout a migration file sets for itself, in ms (its budget); 5 s (the template's) when none or 0. */
export function lockTimeoutOf(text: string): number {
  const m = /lock_timeout\s*(?:=|TO)\s*'?(\d+(?:\.\d+)?)\s*(ms|s|min)?'?/i.exec(text);
  const v = m ? Number(m[1]) * ({ ms: 1, s: 1000, min: 60_000 }[(m[2] ?? "ms").toLowerCase() as "ms"] ?? 1) : 0;
  return v > 0 ? v : 5000;
}

/** Existing tables (not partitions) a migration's text names as schema.table. */
async function namedTables(c: pg.ClientBase, text: string): Promise<string[]> {
  const names = [...new Set([...text.matchAll(/\b([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\b/gi)].map((m) => `${m[1]}.${m[2]}`.toLowerCase()))];
  const { rows } = await c.query<{ t: string }>(
    `SELECT c.oid::regclass::text AS t FROM unnest($1::text[]) n JOIN pg_class c ON c.oid = to_regclass(n)
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`,
    [names],
  );
  return rows.map((r) => r.t);
}

/** relfilenode of every table of ours, to see which ones a migration rewrote. */
async function storage(c: pg.ClientBase): Promise<Map<string, string>> {
  const { rows } = await c.query<{ t: string; f: string }>(
    `SELECT c.oid::regclass::text AS t, c.relfilenode::text AS f FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')`,
  );
  return new Map(rows.map((r) => [r.t, r.f]));
}

interface LoadSample {
  start: number;
  end: number;
}

/** The read/write load: `workers` connections looping over `tables` until stopped. */
function startLoad(url: string, tables: string[], workers: number) {
  const samples: LoadSample[] = [];
  let stopping = false;
  const pools: pg.Client[] = [];
  const loops = Array.from({ length: workers }, async (_, w) => {
    const c = new pg.Client({ connectionString: url, application_name: "rehearse-load" });
    c.on("error", () => {}); // a lost connection ends this worker (below)
    pools.push(c);
    await c.connect();
    // A write's target: a column set to itself on one row, by ctid (any table shape, no key needed).
    const targets = new Map<string, { col: string; ctids: string[] }>();
    for (const t of tables) {
      const col = (
        await c.query<{ a: string }>(
          "SELECT quote_ident(attname) AS a FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum LIMIT 1",
          [t],
        )
      ).rows[0]?.a;
      const ctids = (await c.query<{ t: string }>(`SELECT ctid::text AS t FROM ${t} LIMIT 50`)).rows.map((r) => r.t);
      if (col) targets.set(t, { col, ctids });
    }
    for (let i = w; !stopping; i++) {
      const t = tables[i % tables.length] as string;
      const target = targets.get(t);
      const start = performance.now();
      try {
        if (i % 2 === 0 || !target?.ctids.length) await c.query(`SELECT * FROM ${t} LIMIT 5`);
        else {
          await c.query("BEGIN");
          await c.query(`UPDATE ${t} SET ${target.col} = ${target.col} WHERE ctid = $1::tid`, [target.ctids[i % target.ctids.length]]);
          await c.query("ROLLBACK");
        }
      } catch (e) {
        // A refused write (an append-only table's guard) still took its locks first; the table may also be
        // gone or changed under us (that is what is being rehearsed). Roll back and go on, unless the
        // connection itself is gone (then this worker stops: looping on it would only spin).
        if (!(e instanceof pg.DatabaseError) || e.severity === "FATAL") break;
        await c.query("ROLLBACK").catch(() => {});
      }
      samples.push({ start, end: performance.now() });
    }
  });
  return {
    samples,
    async stop() {
      stopping = true;
      await Promise.allSettled(loops);
      await Promise.allSettled(pools.map((c) => c.end()));
    },
  };
}

/** Rehearse the migrations after `baseCount` on `opts.url`; one report per migration. */
export async function rehearse(opts: RehearseOptions): Promise<MigrationRehearsal[]> {
  const dir = opts.dir ?? MIGRATIONS_DIR;
  const files = migrationFiles(dir);
  const base = files.slice(0, opts.baseCount).map((f) => f.name);
  const monitor = new pg.Client({ connectionString: opts.url, application_name: "rehearse-monitor" });
  monitor.on("error", () => {}); // reported by the query that fails
  await monitor.connect();
  const pool = new pg.Pool({ connectionString: opts.url, max: 2 });
  try {
    // Bring the scratch database to the base: the first baseCount files in order (a copy of a migrated
    // template may hold some or all of them already, never one beyond).
    const { applied } = await migrationState(monitor, dir);
    const beyond = applied.filter((a) => !base.includes(a));
    if (beyond.length) throw new Error(`the scratch database has migrations beyond the base: ${beyond.join(", ")}`);
    if (base.length > applied.length) await migrate(opts.url, { direction: "up", dir, count: base.length - applied.length });
    // The seed code follows the newest schema; a domain it does not fit at the base yet stays as far as it got.
    if (opts.scale) await seedVolume(pool, opts.scale, (domain, e) => opts.onSeedError?.(domain, e));
    const reports: MigrationRehearsal[] = [];
    for (const f of files.slice(opts.baseCount)) reports.push(await rehearseOne(opts, dir, f, monitor));
    return reports;
  } finally {
    await monitor.end();
    await pool.end();
  }
}

async function rehearseOne(opts: RehearseOptions, dir: string, f: { name: string; file: string }, monitor: pg.Client): Promise<MigrationRehearsal> {
  const text = fs.readFileSync(path.join(dir, f.file), "utf8");
  const tables = await namedTables(monitor, text);
  const before = await storage(monitor);
  const load = opts.concurrent && tables.length ? startLoad(opts.url, tables, opts.workers ?? 4) : undefined;
  const seen = new Map<string, string>();
  const note = (table: string, mode: string) => {
    if (STRENGTH.indexOf(mode) > STRENGTH.indexOf(seen.get(table) ?? "")) seen.set(table, mode);
  };
  let rowsChanged: MigrationRehearsal["rowsChanged"] = [];
  let pid: number | undefined;
  let polling = opts.concurrent;
  const poller = (async () => {
    while (polling) {
      if (pid) {
        const { rows } = await monitor.query<{ t: string; mode: string }>(`${LOCKS} AND l.pid = $1`, [pid]);
        for (const r of rows) note(r.t, r.mode);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  let started = 0;
  let ended = 0;
  try {
    if (load) await new Promise((r) => setTimeout(r, 300)); // a baseline before the migration starts
    started = performance.now();
    const ran = await migrate(opts.url, {
      direction: "up",
      dir,
      count: 1,
      onConnected: async (c) => {
        pid = (await c.query("SELECT pg_backend_pid() AS p")).rows[0].p;
      },
      beforeMark: async (_name, c) => {
        for (const r of (await c.query<{ t: string; mode: string }>(`${LOCKS} AND l.pid = pg_backend_pid()`)).rows) note(r.t, r.mode);
        const changed = await c.query<{ t: string; ins: string; upd: string; del: string }>(
          `SELECT relid::regclass::text AS t, n_tup_ins AS ins, n_tup_upd AS upd, n_tup_del AS del FROM pg_stat_xact_user_tables
            WHERE n_tup_ins + n_tup_upd + n_tup_del > 0 AND relname NOT LIKE 'pgmigrations%' ORDER BY 1`,
        );
        rowsChanged = changed.rows.map((r) => ({ table: r.t, inserted: Number(r.ins), updated: Number(r.upd), deleted: Number(r.del) }));
      },
    });
    ended = performance.now();
    if (ran[0] !== f.name) throw new Error(`rehearsal expected to apply ${f.name}, applied ${ran.join(", ") || "nothing"}`);
  } finally {
    polling = false;
    await poller.catch(() => {});
    await load?.stop();
  }

  const after = await storage(monitor);
  const rewritten: MigrationRehearsal["rewritten"] = [];
  for (const [t, node] of before) {
    if (after.has(t) && after.get(t) !== node) rewritten.push({ table: t, rows: Number((await monitor.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n) });
  }
  const samples = load?.samples ?? [];
  const baseline = samples.filter((s) => s.end <= started).reduce((m, s) => Math.max(m, s.end - s.start), 0);
  const during = samples.filter((s) => s.end > started && s.start < ended).reduce((m, s) => Math.max(m, s.end - s.start), 0);
  const budgetMs = opts.budgetMs ?? lockTimeoutOf(text);
  const longestWaitMs = load ? Math.max(0, during - baseline) : null;
  return {
    name: f.name,
    durationMs: Math.round(ended - started),
    locks: [...seen].map(([table, mode]) => ({ table, mode, blocks: blocks(mode) })).sort((a, b) => a.table.localeCompare(b.table)),
    rowsChanged,
    rewritten,
    loadTables: load ? tables : [],
    longestWaitMs: longestWaitMs === null ? null : Math.round(longestWaitMs),
    baselineMs: load ? Math.round(baseline) : null,
    budgetMs,
    overBudget: longestWaitMs !== null && longestWaitMs > budgetMs,
  };
}

/**
 * Table locks held by a backend (callers add its pid): tables of ours, not the migration bookkeeping, and not
 * partitions (a lock on a partitioned table covers its partitions; listing each month would bury the point).
 */
const LOCKS = `SELECT l.relation::regclass::text AS t, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                WHERE l.locktype = 'relation' AND l.granted AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname NOT LIKE 'pgmigrations%'
                  AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)`;

/** The report `make rehearse` prints. */
export function formatRehearsal(reports: MigrationRehearsal[], concurrent: boolean): { text: string; ok: boolean } {
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(`${r.overBudget ? "FAIL" : "ok  "} ${r.name}: ${r.durationMs} ms`);
    for (const l of r.locks)
      lines.push(`       lock ${l.mode} on ${l.table}${l.blocks === "nothing" ? "" : `: blocks ${l.blocks} until the migration commits`}`);
    for (const w of r.rewritten) lines.push(`       REWROTE ${w.table} (${w.rows} rows): the table is copied under an ACCESS EXCLUSIVE lock`);
    for (const c of r.rowsChanged) lines.push(`       rows on ${c.table}: ${c.inserted} inserted, ${c.updated} updated, ${c.deleted} deleted`);
    if (r.longestWaitMs !== null) {
      lines.push(
        `       load on ${r.loadTables.join(", ") || "(no table named)"}: longest wait caused ${r.longestWaitMs} ms (baseline ${r.baselineMs} ms), budget ${r.budgetMs} ms${r.overBudget ? ": OVER BUDGET" : ""}`,
      );
    }
  }
  if (!reports.length) lines.push("nothing to rehearse: no pending migration");
  if (!concurrent) lines.push("\n(embedded engine: one session, so no concurrent load and no waits measured; set DATABASE_URL to a server for them)");
  const ok = reports.every((r) => !r.overBudget);
  return { text: lines.join("\n"), ok };
}
