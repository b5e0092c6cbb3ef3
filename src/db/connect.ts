/**
 * Resolve the database this process should use, and the handle the service layer is built on.
 *
 * DATABASE_URL set   -> that server.
 * DATABASE_URL unset -> the embedded database persisted in PGLITE_DATA_DIR (default .data/pglite).
 *   Only one process may open a PGlite data directory, so the first one to open it serves it on a
 *   loopback port and records that in a lock file beside it; any other process connects to that port
 *   instead of opening the files. `make db` is simply a long-lived first opener.
 */
import fs from "node:fs";
import path from "node:path";
import type pg from "pg";
import { type Config, loadConfig } from "../config";
import { type Engine, serverEngine, startEmbedded } from "./engine";
import { UnavailableError } from "./errors";
import { createPool } from "./pool";
import { createReplicaSet, type ReplicaSet } from "./replicas";
import { type TenantContext, type TxOptions, withTenant, withTransaction } from "./tx";

interface LockInfo {
  pid: number;
  url: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readLock(file: string): LockInfo | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as LockInfo;
  } catch {
    return undefined;
  }
}

/** Open (or join) the embedded database persisted in `dataDir`. */
export async function openLocalEmbedded(dataDir: string, port = 0): Promise<Engine> {
  const dir = path.resolve(dataDir);
  const lockFile = `${dir}.lock`;
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  for (let tries = 0; tries < 50; tries++) {
    let fd: number;
    try {
      fd = fs.openSync(lockFile, "wx");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const owner = readLock(lockFile);
      if (owner?.url && alive(owner.pid)) {
        // Another process serves this directory: join it as a client.
        return { kind: "embedded", url: owner.url, async stop() {} };
      }
      if (owner && !alive(owner.pid)) fs.rmSync(lockFile, { force: true }); // stale
      await new Promise((r) => setTimeout(r, 100)); // being written or just removed: look again
      continue;
    }
    try {
      const engine = await startEmbedded({ dataDir: dir, port });
      fs.writeSync(fd, JSON.stringify({ pid: process.pid, url: engine.url } satisfies LockInfo));
      fs.closeSync(fd);
      return {
        ...engine,
        async stop() {
          await engine.stop();
          fs.rmSync(lockFile, { force: true });
        },
      };
    } catch (e) {
      fs.closeSync(fd);
      fs.rmSync(lockFile, { force: true });
      throw e;
    }
  }
  throw new UnavailableError(`embedded database ${dir} is locked by another process (${lockFile})`);
}

/** The engine named by configuration: DATABASE_URL, else the local embedded database. */
export function openEngine(cfg: Config, port = 0): Promise<Engine> {
  return cfg.databaseUrl ? Promise.resolve(serverEngine(cfg.databaseUrl)) : openLocalEmbedded(cfg.pglite.dataDir, port);
}

/** What the service layer receives: a pool plus the transaction helpers bound to it. */
export interface Db {
  readonly engine: Engine;
  readonly pool: pg.Pool;
  readonly config: Config;
  /** Read replicas (DATABASE_REPLICA_URLS), when configured: routing stats and read-your-writes tokens. */
  readonly replicas?: ReplicaSet;
  transaction<T>(fn: (client: pg.PoolClient) => Promise<T>, opts?: TxOptions): Promise<T>;
  tenant<T>(ctx: TenantContext | string, fn: (client: pg.PoolClient) => Promise<T>, opts?: TxOptions): Promise<T>;
  close(): Promise<void>;
}

/** Build a Db over an already running engine. */
export function dbFor(engine: Engine, config: Config): Db {
  const poolOpts = { preparedStatements: config.preparedStatements, pipeline: config.pipeline };
  const pool = createPool(engine.url, config.pool, poolOpts);
  const retries = { maxRetries: config.txMaxRetries };
  // Replicas are a server feature: the embedded engine has none (config refuses replica URLs without DATABASE_URL).
  const replicas = engine.kind === "server" ? createReplicaSet(config, pool, poolOpts) : undefined;

  /** Run a transaction where it belongs: a read-only one of a known caller on a ready replica, the rest on the primary. */
  async function routed<T>(run: (p: pg.Pool) => Promise<T>, opts: TxOptions = {}): Promise<T> {
    const key = opts.consistencyKey;
    if (!replicas || key === undefined) return run(pool);
    if (opts.readOnly) {
      const replica = replicas.pick(key);
      if (replica) {
        try {
          return await run(replica);
        } catch (e) {
          // An unreachable replica is skipped, never the caller's error: the primary answers instead.
          if (!(e instanceof UnavailableError)) throw e;
          replicas.failed(replica, e);
        }
      }
      return run(pool);
    }
    const result = await run(pool);
    await replicas.wrote(key, pool);
    return result;
  }

  return {
    engine,
    pool,
    config,
    replicas,
    transaction: (fn, opts) => routed((p) => withTransaction(p, fn, { ...retries, ...opts }), opts),
    tenant: (ctx, fn, opts) => routed((p) => withTenant(p, ctx, fn, { ...retries, ...opts }), opts),
    async close() {
      await replicas?.close();
      await pool.end();
      await engine.stop();
    },
  };
}

/** Connect using configuration from the environment. */
export async function connect(config: Config = loadConfig()): Promise<Db> {
  return dbFor(await openEngine(config), config);
}
