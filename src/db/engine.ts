/**
 * The two engines behind one connection string.
 *
 * - server:   any PostgreSQL 15+ with pgvector, named by DATABASE_URL.
 * - embedded: PGlite (PostgreSQL 18 compiled to WASM) served over the PostgreSQL wire protocol by
 *   pglite-socket on a loopback port, so `pg`, node-pg-migrate, pgtyped and psql talk to it exactly as
 *   to a server. Every socket connection shares ONE PostgreSQL session, so nothing in this project may
 *   rely on session state: tenant and role context are only ever set with SET LOCAL inside a transaction.
 */
import { PGlite } from "@electric-sql/pglite";
import { pgcrypto } from "@electric-sql/pglite/contrib/pgcrypto";
import { vector } from "@electric-sql/pglite-pgvector";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

export type EngineKind = "server" | "embedded";

export interface Engine {
  kind: EngineKind;
  /** A postgres:// URL any client can use while the engine runs. */
  url: string;
  /** The PGlite instance, for snapshotting (embedded only). */
  pglite?: PGlite;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Directory to persist to; omit for an in-memory database. */
  dataDir?: string;
  /** A tarball made by `snapshotEmbedded` to start from (in-memory copy). */
  snapshot?: Blob;
  /** Loopback port; 0 picks a free one. */
  port?: number;
  /** Socket connections accepted at once; must exceed the pool size plus tools (psql, pgtyped). */
  maxConnections?: number;
}

/** Start an embedded PGlite database and serve it on 127.0.0.1. */
export async function startEmbedded(opts: EmbeddedOptions = {}): Promise<Engine> {
  const pglite = await PGlite.create(opts.dataDir, {
    extensions: { vector, pgcrypto },
    ...(opts.snapshot ? { loadDataDir: opts.snapshot } : {}),
  });
  const server = new PGLiteSocketServer({
    db: pglite,
    host: "127.0.0.1",
    port: opts.port ?? 0,
    maxConnections: opts.maxConnections ?? 64,
  });
  await server.start();
  const conn = server.getServerConn(); // "127.0.0.1:PORT"
  return {
    kind: "embedded",
    url: `postgres://postgres@${conn}/postgres`,
    pglite,
    async stop() {
      await server.stop();
      await pglite.close();
    },
  };
}

/** A compressed tarball of an embedded database's data directory. */
export async function snapshotEmbedded(engine: Engine): Promise<Blob> {
  if (!engine.pglite) throw new Error("snapshotEmbedded: not an embedded engine");
  return engine.pglite.dumpDataDir("gzip");
}

/** A server engine is just its URL: nothing to start or stop. */
export function serverEngine(url: string): Engine {
  return { kind: "server", url, async stop() {} };
}
