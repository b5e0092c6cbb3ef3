/** The connection pool, built from validated configuration. */
import pg from "pg";
import type { Config } from "../config";

// bigint (int8) and numeric stay strings, as pgtyped types them; timestamptz becomes Date (pg default).

export function createPool(url: string, cfg: Config["pool"]): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: cfg.max,
    connectionTimeoutMillis: cfg.connectTimeoutMs,
    idleTimeoutMillis: cfg.idleTimeoutMs,
    // Server-side limit per statement (a typed TimeoutError, SQLSTATE 57014)...
    statement_timeout: cfg.statementTimeoutMs || undefined,
    // ...and a client-side backstop for engines that ignore cancel requests (PGlite).
    query_timeout: cfg.statementTimeoutMs ? cfg.statementTimeoutMs + 5_000 : undefined,
    application_name: "pg-foundation",
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  return pool;
}
