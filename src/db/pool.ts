/**
 * The connection pool, built from validated configuration, and the query executor behind it.
 *
 * Named prepared statements (DB_PREPARED_STATEMENTS, on by default). pgtyped's generated functions, and
 * most hand-written calls, run `client.query(text, values)`. With the switch on, the pool's clients turn
 * every such call with at least one parameter into `{ name, text, values }`: PostgreSQL parses and plans the statement
 * once per connection and later calls only bind and execute it (pg skips the Parse message for a name it
 * has already prepared on that connection). Calls without parameters (BEGIN, COMMIT, DDL, multi-statement
 * scripts: pg sends those with the simple protocol), config objects and streams (COPY) pass through.
 *
 * Statement names are `pgf_<hash of the text>_<tag of the connection>`: stable for a text on one
 * connection, and unique per connection, because on the embedded engine every socket connection shares
 * ONE PostgreSQL session — a name prepared by one connection would make another's Parse fail with
 * "prepared statement ... already exists". A connection that ends cleanly DEALLOCATEs its statements, so
 * a long-lived shared session (PGlite, `make db`) does not accumulate them.
 *
 * Turn the switch OFF behind PgBouncer older than 1.21 in transaction (or statement) pooling mode, and
 * behind 1.21+ unless `max_prepared_statements` is set: there a client's next transaction may run on
 * another server connection, where its statement was never prepared. Session-mode poolers are fine.
 *
 * After a migration changes a table's columns, a prepared `SELECT *`/`RETURNING *` fails once per
 * connection with "cached plan must not change result type" (SQLSTATE 0A000); the executor then prepares
 * that text under a new name on that connection, so the next call succeeds, and withTransaction
 * (src/db/tx.ts) re-runs the transaction at once, so service callers never see the error.
 */
import crypto from "node:crypto";
import pg from "pg";
import type { Config } from "../config";

// bigint (int8) and numeric stay strings, as pgtyped types them; timestamptz becomes Date (pg default).

/** Statements named per connection at most; later new texts run unnamed (no unbounded server memory). */
export const MAX_NAMED_PER_CONNECTION = 256;
/** Texts longer than this run unnamed: generated bulk statements are one-offs, not hot queries. */
export const MAX_NAMED_TEXT_LENGTH = 16_384;

const processTag = `${process.pid.toString(36)}${crypto.randomBytes(3).toString("hex")}`;
let connectionSerial = 0;

/** The name a text is prepared under on one connection (<= 63 bytes, PostgreSQL's NAMEDATALEN - 1). */
export function statementName(text: string, connectionTag: string, generation = 0): string {
  const hash = crypto.createHash("sha1").update(text).digest("hex").slice(0, 16);
  return `pgf_${hash}_${connectionTag}${generation ? `_${generation}` : ""}`;
}

/**
 * Whether `err` says a named prepared statement went stale on its connection: 0A000 "cached plan must not
 * change result type" (a table changed under it) or 26000 "prepared statement does not exist" (something
 * deallocated it). PreparingClient renames or forgets the statement; withTransaction re-runs the transaction.
 */
export function isStaleStatement(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  return code === "26000" || (code === "0A000" && /cached plan must not change result type/.test(String(message)));
}

interface PgConnectionInternals {
  parsedStatements: Record<string, string>;
}

type QueryCallback = (err: Error, result: pg.QueryResult) => void;

/**
 * A pg.Client that runs parameterised text queries as named prepared statements. Used through the pool
 * (`Client` option of pg.Pool); `preparedStatements: false` makes it behave exactly like pg.Client.
 */
export class PreparingClient extends pg.Client {
  readonly preparedStatements: boolean;
  readonly tag = `${processTag}${(++connectionSerial).toString(36)}`;
  /** text -> the name it is prepared under on this connection. */
  readonly #names = new Map<string, string>();
  /** text -> generation, bumped when a cached plan went stale (0A000). */
  readonly #generations = new Map<string, number>();

  constructor(config: pg.ClientConfig & { preparedStatements?: boolean } = {}) {
    super(config);
    this.preparedStatements = config.preparedStatements ?? true;
  }

  /** How many statements this connection has named (for tests and the bench). */
  get namedStatementCount(): number {
    return this.#names.size;
  }

  #nameFor(text: string): string | undefined {
    const known = this.#names.get(text);
    if (known) return known;
    if (text.length > MAX_NAMED_TEXT_LENGTH || this.#names.size >= MAX_NAMED_PER_CONNECTION) return undefined;
    const name = statementName(text, this.tag, this.#generations.get(text));
    this.#names.set(text, name);
    return name;
  }

  /** Forget a name after the server refused it, so the next call prepares the text again. */
  #forget(text: string, name: string, err: unknown): void {
    if (!isStaleStatement(err)) return;
    const internals = (this as unknown as { connection: PgConnectionInternals }).connection;
    if ((err as { code: string }).code === "26000") {
      // "prepared statement does not exist": something deallocated it (DISCARD ALL, DEALLOCATE ALL).
      delete internals.parsedStatements[name];
      this.#names.delete(text);
    } else {
      // The old statement cannot be dropped inside a failed transaction; use a fresh name from now on.
      this.#generations.set(text, (this.#generations.get(text) ?? 0) + 1);
      this.#names.delete(text);
    }
  }

  // pg.Client.query has many overloads; this one forwards all of them and rewrites only (text, values[]).
  override query(...args: unknown[]): never {
    const [config, values, callback] = args;
    const superQuery = super.query as (...a: unknown[]) => unknown;
    // Without values pg uses the simple protocol (which allows several statements in one text): keep it.
    if (!this.preparedStatements || typeof config !== "string" || !Array.isArray(values) || values.length === 0) {
      return superQuery.apply(this, args) as never;
    }
    const name = this.#nameFor(config);
    if (!name) return superQuery.apply(this, args) as never;
    const named = { name, text: config, values };
    if (typeof callback === "function") {
      return superQuery.call(this, named, (err: Error, res: pg.QueryResult) => {
        if (err) this.#forget(config, name, err);
        (callback as QueryCallback)(err, res);
      }) as never;
    }
    return (superQuery.call(this, named) as Promise<pg.QueryResult>).catch((err: unknown) => {
      this.#forget(config, name, err);
      throw err;
    }) as never;
  }

  /**
   * DEALLOCATE this connection's statements before closing (best effort, at most 1 s), so a session
   * shared by many connections (the embedded engine) does not keep them after this connection is gone.
   */
  override end(): Promise<void>;
  override end(callback: (err: Error) => void): void;
  override end(callback?: (err: Error) => void): Promise<void> | void {
    const self = this as unknown as { _queryable?: boolean; _ending?: boolean; _connected?: boolean; _activeQuery?: unknown };
    const names = [...this.#names.values()];
    const idle = self._connected && self._queryable && !self._ending && !self._activeQuery;
    const cleanup =
      names.length && idle
        ? Promise.race([
            super.query(names.map((n) => `DEALLOCATE ${n}`).join("; ")).then(
              () => undefined,
              () => undefined,
            ),
            new Promise<void>((r) => setTimeout(r, 1_000).unref()),
          ])
        : Promise.resolve();
    this.#names.clear();
    const done = cleanup.then(() => super.end());
    if (callback) {
      done.then(() => callback(undefined as unknown as Error), callback);
      return;
    }
    return done;
  }
}

export interface PoolOptions {
  /** Run parameterised queries as named prepared statements (DB_PREPARED_STATEMENTS); default true. */
  preparedStatements?: boolean;
}

export function createPool(url: string, cfg: Config["pool"], opts: PoolOptions = {}): pg.Pool {
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
    Client: PreparingClient,
    preparedStatements: opts.preparedStatements ?? true,
  } as pg.PoolConfig);
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  // ...and neither must one that loses its connection while checked out (a transaction in flight when the
  // server restarts): pg emits 'error' on the client, which would be an uncaught exception. The failing
  // query itself still rejects, and withTransaction maps that to UnavailableError.
  pool.on("connect", (client) => client.on("error", () => {}));
  return pool;
}
