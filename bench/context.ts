/**
 * What every workload gets: the layer (a Db with named prepared statements on, and one with them off), a
 * plain pg pool on the same database for the hand-written contenders, a tenant, and the run's settings.
 * `openBench` makes a fresh database for the run and drops it afterwards: the bench never touches the
 * user's data.
 */
import crypto from "node:crypto";
import pg from "pg";
import { type Config, loadConfig } from "../src/config";
import { type Db, dbFor } from "../src/db/connect";
import { createDatabase } from "../src/tools/databases";
import { type Engine, type EngineKind, serverEngine, startEmbedded } from "../src/db/engine";
import { platformContext } from "../src/db/operation";
import { migrate } from "../src/tools/migrate";
import { createTenant, type RequestContext, requestContext } from "../src/screening";
import type { ResultRow } from "./harness";

export interface BenchContext {
  engine: Engine;
  kind: EngineKind;
  /** The layer as configured for production: named prepared statements on. */
  db: Db;
  /** The same layer with DB_PREPARED_STATEMENTS=false. */
  dbUnnamed: Db;
  /** A plain pg.Pool of the same size, for the hand-written contenders. */
  plain: pg.Pool;
  /** A screening tenant and a request context for it. */
  ctx: RequestContext;
  quick: boolean;
  /** Server connection string of the admin database (server engine), for pgbench and scratch databases. */
  adminUrl?: string;
  poolSize: number;
  /** A fresh request context for the tenant (new correlation id). */
  freshCtx(): RequestContext;
}

export type Workload = (b: BenchContext) => Promise<ResultRow[]>;

const key = () => crypto.randomBytes(32).toString("base64");

/** Configuration for the bench's pools: throwaway keys, the given URL and pool size. */
export function benchConfig(url: string, poolSize: number, env: Record<string, string> = {}): Config {
  return loadConfig({
    ...process.env,
    ENCRYPTION_KEYS: `b1:${key()}`,
    ENCRYPTION_ACTIVE_KEY_ID: "b1",
    BLIND_INDEX_KEY: key(),
    DATABASE_URL: url,
    DB_POOL_MAX: String(poolSize),
    DB_IDLE_TIMEOUT_MS: "60000",
    DB_STATEMENT_TIMEOUT_MS: "600000",
    ...env,
  });
}

/** Build the context over an engine that already holds a migrated database. */
export async function contextFor(engine: Engine, opts: { quick: boolean; poolSize: number; adminUrl?: string }): Promise<BenchContext> {
  const cfg = benchConfig(engine.url, opts.poolSize);
  const db = dbFor(engine, cfg);
  // Same keys, so either pool reads what the other wrote.
  const dbUnnamed = dbFor({ ...engine, async stop() {} }, { ...cfg, preparedStatements: false });
  const plain = new pg.Pool({ connectionString: engine.url, max: opts.poolSize, idleTimeoutMillis: 60_000 });
  plain.on("error", () => {});
  const tenant = await createTenant(db, platformContext(), { slug: `bench-${crypto.randomBytes(4).toString("hex")}`, name: "Bench" });
  const fresh = () => requestContext({ tenantId: tenant.tenant_id, actorId: crypto.randomUUID(), correlationId: crypto.randomUUID() });
  return {
    engine,
    kind: engine.kind,
    db,
    dbUnnamed,
    plain,
    ctx: fresh(),
    freshCtx: fresh,
    quick: opts.quick,
    adminUrl: opts.adminUrl,
    poolSize: opts.poolSize,
  };
}

/** A fresh, migrated database for this run: a scratch database on the DATABASE_URL server, else in-memory PGlite. */
export async function openBench(opts: { quick: boolean; poolSize: number }): Promise<{ b: BenchContext; close(): Promise<void> }> {
  const adminUrl = loadConfig().databaseUrl;
  let engine: Engine;
  if (adminUrl) {
    const scratch = await createDatabase(adminUrl);
    await migrate(scratch.url, { direction: "up" });
    engine = { ...serverEngine(scratch.url), stop: scratch.drop };
  } else {
    engine = await startEmbedded({ maxConnections: 2_000 });
    await migrate(engine.url, { direction: "up" });
  }
  const b = await contextFor(engine, { ...opts, adminUrl });
  return {
    b,
    async close() {
      await b.plain.end();
      await b.dbUnnamed.pool.end();
      await b.db.close(); // ends the pool, then drops the scratch database / stops PGlite
    },
  };
}
