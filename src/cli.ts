/**
 * The one entry point behind the Makefile: `tsx src/cli.ts <command>`. The Makefile stays the documented
 * face; this file holds the little logic the targets need.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parseSQLFile } from "@pgtyped/parser";
import pg from "pg";
import { loadConfig } from "./config";
import { type Db, dbFor, openEngine, openLocalEmbedded } from "./db/connect";
import { type Engine, startEmbedded } from "./db/engine";
import { AppError } from "./db/errors";
import { generatedModules } from "./tools/generated";
import { lintConcurrentMigrations, MigrationIntegrityError, migrate, newMigration, repairChecksum } from "./tools/migrate";

const ROOT = path.resolve(import.meta.dirname, "..");

function describe(engine: Engine): string {
  return engine.kind === "server" ? `server ${redact(engine.url)}` : `embedded PGlite (${loadConfig().pglite.dataDir}) at ${engine.url}`;
}

/** A URL without its password, for printing. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, "//$1:***@");
}

async function withEngine<T>(fn: (engine: Engine) => Promise<T>): Promise<T> {
  const engine = await openEngine(loadConfig());
  try {
    return await fn(engine);
  } finally {
    await engine.stop();
  }
}

/** A one-connection pool on the configured engine, for the catalog tools; closed after. */
function withPool<T>(fn: (pool: pg.Pool, engine: Engine) => Promise<T>): Promise<T> {
  return withEngine(async (engine) => {
    const pool = new pg.Pool({ connectionString: engine.url, max: 1 });
    try {
      return await fn(pool, engine);
    } finally {
      await pool.end();
    }
  });
}

/** The service layer on the configured engine, for platform jobs (purges, partitions); closed after. */
async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const cfg = loadConfig();
  const db = dbFor(await openEngine(cfg), cfg);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

const print = (name: string, dir: string) => console.log(`  ${dir === "up" ? "applied " : "reverted"} ${name}`);

const commands: Record<string, (args: string[]) => Promise<void>> = {
  async migrate() {
    await withEngine(async (engine) => {
      console.log(`migrating ${describe(engine)}`);
      const adopted: string[] = [];
      const ran = await migrate(engine.url, { direction: "up", onApplied: print, onAdopted: (n) => adopted.push(n) });
      if (adopted.length) {
        console.log(
          `recorded the checksums of ${adopted.length} migration(s) applied before checksums were kept (adopted; docs/dba.md says how to confirm them)`,
        );
      }
      console.log(ran.length ? `${ran.length} migration(s) applied` : "already up to date");
    });
  },

  async "migrate-down"(args) {
    const count = args[0] ? Number(args[0]) : 1;
    await withEngine(async (engine) => {
      console.log(`reverting ${count} migration(s) on ${describe(engine)}`);
      const ran = await migrate(engine.url, { direction: "down", count, onApplied: print });
      console.log(ran.length ? `${ran.length} migration(s) reverted` : "nothing to revert");
    });
  },

  /** Accept an edit to an applied migration, with a reason (make migrate-repair name=... reason="..."). */
  async "migrate-repair"(args) {
    const [name, ...reason] = args;
    if (!name) throw new Error('usage: make migrate-repair name=<migration name, without .sql> reason="<why the edit is accepted>"');
    await withEngine(async (engine) => {
      const r = await repairChecksum(engine.url, name, reason.join(" "));
      console.log(`recorded ${name}: sha256 ${r.was?.slice(0, 12) ?? "(none)"} -> ${r.now.slice(0, 12)}, with the reason, on ${describe(engine)}`);
    });
  },

  /** Part of `make lint`: what squawk cannot see in non-transactional (TS) migrations. */
  async "lint-migrations"() {
    const problems = lintConcurrentMigrations();
    if (problems.length) throw new Error(`non-transactional migrations:\n  ${problems.join("\n  ")}`);
  },

  async migration(args) {
    if (!args[0]) throw new Error("usage: make migration name=<snake_case_name>");
    console.log(`created ${path.relative(ROOT, newMigration(args[0]))}`);
  },

  /** Regenerate pgtyped modules against a fresh in-memory database, so output depends only on the repo. */
  async gen() {
    const engine = await startEmbedded();
    try {
      checkQueryFiles();
      await migrate(engine.url, { direction: "up" });
      await writeErd(engine.url);
      for (const f of generatedModules().map((g) => g.module)) fs.rmSync(f);
      // Async spawn: the embedded engine answers from this process's event loop.
      const code = await run(path.join(ROOT, "node_modules/.bin/pgtyped"), ["-c", "pgtyped.config.json", "--uri", engine.url]);
      if (code !== 0) throw new Error(`pgtyped failed (exit ${code})`);
      const files = generatedModules().map((g) => g.module);
      for (const f of files) {
        const body = fs.readFileSync(f, "utf8");
        const source = /found in "([^"]+)"/.exec(body)?.[1] ?? "queries/";
        fs.writeFileSync(f, `${GENERATED_HEADER(source)}${body}`);
      }
      console.log(`generated ${files.length} query module(s):`);
      for (const f of files) console.log(`  ${path.relative(ROOT, f)}`);
    } finally {
      await engine.stop();
    }
    await commands.schema?.([]);
  },

  /** Serve the embedded database until interrupted. */
  async db() {
    const cfg = loadConfig();
    if (cfg.databaseUrl) {
      console.log(`DATABASE_URL is set; use it directly:\n  psql '${cfg.databaseUrl}'`);
      return;
    }
    const engine = await openLocalEmbedded(cfg.pglite.dataDir, cfg.pglite.port);
    const ran = await migrate(engine.url, { direction: "up", onApplied: print });
    if (ran.length) console.log(`${ran.length} migration(s) applied`);
    console.log(`serving ${describe(engine)}\n\n  psql '${engine.url}'\n  export DATABASE_URL='${engine.url}'\n\nCtrl-C to stop.`);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    await engine.stop();
  },

  /** docs/erd.md and docs/erd.svg from a fresh embedded database (also part of gen). */
  async erd() {
    const engine = await startEmbedded();
    try {
      await migrate(engine.url, { direction: "up" });
      await writeErd(engine.url);
    } finally {
      await engine.stop();
    }
  },

  /**
   * docs/schema.sql: pg_dump --schema-only of a fresh server database migrated from migrations/, so a
   * reviewer sees every change twice (the migration and the resulting schema). Needs a server
   * (DATABASE_URL) and a pg_dump at least as new as it. Monthly partitions are left out (their names
   * follow the calendar); so are lines that vary by machine (versions, \restrict keys).
   */
  async schema() {
    const cfg = loadConfig();
    if (!cfg.databaseUrl) {
      console.log("schema dump skipped: docs/schema.sql is dumped from a PostgreSQL server; set DATABASE_URL");
      return;
    }
    const { createDatabase } = await import("./tools/databases");
    const scratch = await createDatabase(cfg.databaseUrl);
    try {
      await migrate(scratch.url, { direction: "up" });
      const dump = await capture("pg_dump", [
        "--schema-only",
        "--no-owner",
        "--exclude-table=public.pgmigrations*",
        "--exclude-table=*.*_p[0-9][0-9][0-9][0-9]_[0-9][0-9]",
        `--dbname=${scratch.url}`,
      ]);
      const body = dump
        .split("\n")
        .filter((l) => !/^\\(un)?restrict |^-- Dumped (from|by) /.test(l))
        .join("\n")
        .replace(/\n{3,}/g, "\n\n");
      fs.mkdirSync(path.join(ROOT, "docs"), { recursive: true });
      fs.writeFileSync(
        path.join(ROOT, "docs/schema.sql"),
        `-- @generated by \`make gen\` (with DATABASE_URL set): pg_dump --schema-only after all migrations.\n-- Do not edit; monthly partitions (<table>_pYYYY_MM) are omitted because their names follow the calendar.\n${body}`,
      );
      console.log("wrote docs/schema.sql");
    } finally {
      await scratch.drop();
    }
  },

  /**
   * Seed a throwaway database with realistic volume and EXPLAIN every named query; exit 1 when a query
   * sequentially scans a large table without a `-- explain: seq-scan-ok <why>` annotation.
   * Usage: make explain [scale=1]  (1 = 20,000 entities; the server engine when DATABASE_URL is set).
   */
  async explain(args) {
    const scale = args[0] ? Number(args[0]) : 1;
    const { explainAll, formatPlanLine, seedVolume } = await import("./tools/explain");
    const cfg = loadConfig();
    const { createDatabase } = await import("./tools/databases");
    const scratch = cfg.databaseUrl ? await createDatabase(cfg.databaseUrl) : undefined;
    const engine = scratch ? undefined : await startEmbedded();
    const url = scratch?.url ?? (engine as Engine).url;
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    try {
      await migrate(url, { direction: "up" });
      const started = Date.now();
      await seedVolume(pool, scale);
      console.log(`seeded ${scratch ? "a scratch server database" : "an embedded database"} at scale ${scale} in ${Date.now() - started} ms\n`);
      const lines = await explainAll(pool);
      for (const l of lines) console.log(formatPlanLine(l));
      const bad = lines.filter((l) => l.error || l.violations.length);
      console.log(`\n${lines.length} queries, ${bad.length} with problems`);
      if (bad.length) process.exitCode = 1;
    } finally {
      await pool.end();
      await scratch?.drop();
      await engine?.stop();
    }
  },

  /** Check a live database; exit 1 with a readable report when anything is off. */
  async doctor() {
    const { doctor, formatReport } = await import("./tools/doctor");
    const { drift } = await import("./tools/drift");
    const { shardReport, SHARD_RULES, formatShardSummary } = await import("./tools/shard-readiness");
    await withPool(async (pool, engine) => {
      console.log(`checking ${describe(engine)}\n`);
      const results = await doctor(pool);
      const d = await drift(engine.url, { engine: engine.kind }).catch((e: Error) => ({ differences: [`could not check: ${e.message}`] }));
      results.push({ name: "no schema drift (make drift)", why: "the live schema must be what the applied migrations produce", problems: d.differences });
      // Scale-out readiness is a distance to shrink, not a failure: only an unplanned table fails the doctor
      // (a new table must get a role in SHARD_PLAN); the rest is reported below the checks.
      const shard = await shardReport(pool);
      results.push(...shard.results.filter((r) => r.name === SHARD_RULES.plan.name));
      const { text, ok } = formatReport(results);
      console.log(text);
      console.log(`\n${formatShardSummary(shard.summary)}\n  (per table: make scale-out)`);
      if (!ok) process.exitCode = 1;
    });
  },

  /** Per table, which rules of the Citus plan (docs/scale-out.md) it breaks today; make doctor prints the summary. */
  async "scale-out"() {
    const { shardReport, formatShardSummary } = await import("./tools/shard-readiness");
    await withPool(async (pool) => {
      const r = await shardReport(pool);
      for (const c of r.results) console.log(c.problems.length ? `${c.name} (${c.why})\n${c.problems.map((p) => `  - ${p}`).join("\n")}` : `ok ${c.name}`);
      console.log(`\n${formatShardSummary(r.summary)}`);
    });
  },

  /**
   * Compare the live schema with what its applied migrations produce (replayed on a throwaway database of
   * the same engine). Exit 0 no drift, 1 drift found, 2 could not check.
   */
  async drift() {
    const { checkDrift } = await import("./tools/drift");
    await withEngine(async (engine) => {
      console.log(`checking ${describe(engine)} for drift`);
      const { text, code } = await checkDrift(engine.url, { engine: engine.kind });
      console.log(text);
      process.exitCode = code;
    });
  },

  /**
   * Rehearse the pending migrations (or the last n with last=n) on a scratch copy seeded at `scale` under a
   * read/write load; exit 1 when one makes the load wait longer than its budget. Usage:
   * make rehearse [scale=0.2] [last=N] [budget=ms]. The load needs a server (DATABASE_URL).
   */
  async rehearse(args) {
    const opt = Object.fromEntries(args.filter((a) => a.includes("=")).map((a) => a.split("=", 2) as [string, string]));
    const scale = opt.scale ? Number(opt.scale) : 0.2;
    const { rehearse, formatRehearsal } = await import("./tools/rehearse");
    const { migrationFiles, migrationState } = await import("./tools/migrate");
    const cfg = loadConfig();
    const files = migrationFiles();
    let baseCount: number;
    if (opt.last) baseCount = files.length - Number(opt.last);
    else {
      baseCount = await withPool(async (pool, engine) => {
        const applied = (await migrationState(pool)).applied.length;
        console.log(`${describe(engine)} has ${applied} of ${files.length} migration(s) applied`);
        return applied;
      });
    }
    if (!(baseCount >= 0 && baseCount <= files.length)) throw new Error("last= must be between 0 and the number of migrations");
    if (baseCount === files.length) {
      console.log("nothing to rehearse: no pending migration (last=N rehearses the last N)");
      return;
    }
    const { createDatabase } = await import("./tools/databases");
    const scratch = cfg.databaseUrl ? await createDatabase(cfg.databaseUrl) : undefined;
    const embedded = scratch ? undefined : await startEmbedded();
    try {
      const url = scratch?.url ?? (embedded as Engine).url;
      console.log(
        `rehearsing ${files.length - baseCount} migration(s) on ${scratch ? "a scratch server database" : "a throwaway embedded database"} seeded at scale ${scale}\n`,
      );
      const reports = await rehearse({
        url,
        baseCount,
        scale,
        concurrent: Boolean(scratch),
        budgetMs: opt.budget ? Number(opt.budget) : undefined,
        onSeedError: (domain, e) =>
          console.log(`note: the ${domain} seed does not fit the schema before these migrations (${e.message}); its tables are seeded only as far as it got`),
      });
      const { text, ok } = formatRehearsal(reports, Boolean(scratch));
      console.log(text);
      if (!ok) process.exitCode = 1;
    } finally {
      await scratch?.drop();
      await embedded?.stop();
    }
  },

  /** Delete expired screening cache rows past retention (for a scheduler); each tenant's trail records its counts. */
  async "purge-cache"(args) {
    const { purgeExpiredCache } = await import("./screening");
    const { platformContext } = await import("./db/operation");
    await withDb(async (db) => {
      const r = await purgeExpiredCache(db, platformContext(), args[0] ? { olderThanDays: Number(args[0]) } : {});
      console.log(
        `${r.purged} expired cache row(s) purged (${r.shared_rows} shared), stale before ${r.cutoff.toISOString()}, in ${r.tenants.length} tenant(s)`,
      );
    });
  },

  /** Delete expired workspace sessions (for a scheduler); each organisation's audit trail records its count. */
  async "purge-sessions"() {
    // Imported lazily, like partitions: the domain uses generated query modules.
    const { purgeExpiredSessions } = await import("./workspace");
    const { platformContext } = await import("./db/operation");
    await withDb(async (db) => {
      const r = await purgeExpiredSessions(db, platformContext());
      console.log(`${r.purged} expired session(s) purged in ${r.organizations.length} organisation(s)`);
    });
  },

  /** Keep monthly partitions 3 months ahead on every partitioned table; report rows in DEFAULT partitions. */
  async partitions(args) {
    // Imported lazily: it uses generated query modules, which `gen` must be able to (re)create first.
    const { ensureAllPartitions, reportPartitions } = await import("./core/partitions");
    const { platformContext } = await import("./db/operation");
    const ctx = platformContext();
    const monthsAhead = args[0] ? Number(args[0]) : 3;
    await withDb(async (db) => {
      const made = await ensureAllPartitions(db, ctx, { monthsAhead });
      for (const p of made.filter((m) => m.created)) console.log(`  created ${p.parent} -> ${p.partition_name}`);
      const parents = new Set(made.map((m) => m.parent));
      console.log(`${parents.size} partitioned table(s), ${made.filter((m) => m.created).length} partition(s) created`);
      const report = await reportPartitions(db, ctx);
      for (const d of report.nonEmptyDefaults) {
        console.log(`  WARNING ${d.parent}: ${d.row_count} row(s) in DEFAULT partition ${d.partition_name}`);
      }
      if (report.nonEmptyDefaults.length) process.exitCode = 1;
    });
  },
};

const GENERATED_HEADER = (source: string) => `// @generated by \`make gen\` from ${source}. Do not edit: change the .sql file and run \`make gen\`.\n`;

/** pgtyped reports annotation errors but still exits 0: parse every query file first and fail loudly. */
function checkQueryFiles(): void {
  const problems: string[] = [];
  const walk = (dir: string): string[] =>
    fs
      .readdirSync(dir, { withFileTypes: true })
      .flatMap((d) => (d.isDirectory() ? walk(path.join(dir, d.name)) : d.name.endsWith(".sql") ? [path.join(dir, d.name)] : []));
  for (const file of walk(path.join(ROOT, "queries"))) {
    const parsed = parseSQLFile(fs.readFileSync(file, "utf8"));
    for (const ev of parsed.events) problems.push(`${path.relative(ROOT, file)}:${ev.location?.line ?? "?"}: ${ev.message.text}`);
    if (parsed.queries.length === 0) problems.push(`${path.relative(ROOT, file)}: no /* @name ... */ query found`);
  }
  if (problems.length) throw new Error(`query files do not parse:\n  ${problems.join("\n  ")}`);
}

async function writeErd(url: string): Promise<void> {
  const { readModel, toDot, toMermaid, toSvg } = await import("./tools/erd");
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const model = await readModel(pool);
    fs.mkdirSync(path.join(ROOT, "docs"), { recursive: true });
    fs.writeFileSync(path.join(ROOT, "docs/erd.md"), toMermaid(model));
    fs.writeFileSync(path.join(ROOT, "docs/erd.svg"), await toSvg(toDot(model)));
    console.log(`wrote docs/erd.md and docs/erd.svg (${model.tables.length} tables, ${model.fks.length} foreign keys)`);
  } finally {
    await pool.end();
  }
}

/** Run a command and return its standard output; fails with its standard error. */
function capture(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", (e) => reject(new Error(`${cmd} could not run (${e.message}); install the PostgreSQL client`)));
    child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} failed (exit ${code}): ${err.trim()}`))));
  });
}

/** Run a command with inherited output; resolves to its exit code. */
function run(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", reject);
    child.on("exit", (code) => resolve(code ?? 1));
  });
}

async function main() {
  // A .env file beside the Makefile fills in variables not already set (see .env.example).
  if (fs.existsSync(path.join(ROOT, ".env"))) process.loadEnvFile(path.join(ROOT, ".env"));
  const [name, ...args] = process.argv.slice(2);
  const cmd = name ? commands[name] : undefined;
  if (!cmd) {
    console.error(`usage: tsx src/cli.ts <${Object.keys(commands).join("|")}> [args]`);
    process.exit(2);
  }
  try {
    await cmd(args);
  } catch (e) {
    if (e instanceof AppError) console.error(`error (${e.code}): ${e.message}`);
    else if (e instanceof MigrationIntegrityError) console.error(e.message);
    else console.error(e);
    process.exit(1);
  }
}

await main();
