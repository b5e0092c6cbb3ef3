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
 * Pipelining (DB_PIPELINE, on by default): the clients run in node-postgres's
 * pipeline mode, where a query goes out as soon as it is issued, without waiting for the replies to the
 * ones before it (each still has its own Sync, so one failing does not take the next with it). A
 * transaction (src/db/tx.ts) sends BEGIN with its context and checks without awaiting them, so they share
 * the first statement's round trip; and when the caller knows a statement is the transaction's last
 * (`armCommit`), COMMIT goes right behind it, in the same round trip. Queries that hold a portal open across
 * round trips (COPY streams, cursors) are refused by pg in that mode: run them inside `unpipelined`. On the
 * embedded engine it holds too: pglite-socket serves one session to every connection, but once a
 * connection's BEGIN has run it takes only that connection's messages until the transaction ends, and
 * every pipelined batch here starts with BEGIN (the interleaving of pglite #1046 is of batches outside a
 * transaction); test/core/round-trips.test.ts runs 400 concurrent pipelined calls of four organisations
 * there. Turn it off for a pooler or proxy that cannot take pipelined messages.
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
  /** Send COMMIT right behind the next statement (see armCommit). */
  #commitArmed = false;
  /** The COMMIT sent behind a statement, for the transaction to await (see takePendingCommit). */
  #pendingCommit: Promise<pg.QueryResult> | undefined;

  constructor(config: pg.ClientConfig & { preparedStatements?: boolean; pipeline?: boolean } = {}) {
    super(config);
    this.preparedStatements = config.preparedStatements ?? true;
  }

  /** Whether this connection pipelines (pg's `pipeline` option). */
  get pipelined(): boolean {
    return (this as unknown as { pipeline?: boolean }).pipeline === true;
  }

  /**
   * The caller knows the next statement is its transaction's last: on a pipelined connection, send COMMIT
   * right behind it, in the same round trip (takePendingCommit gives its outcome). If that statement fails,
   * the server answers the COMMIT of the failed transaction with ROLLBACK: nothing is committed.
   */
  armCommit(): void {
    if (this.pipelined) this.#commitArmed = true;
  }

  /** The COMMIT armCommit sent (undefined if none), handed over once; disarms a COMMIT not yet sent. */
  takePendingCommit(): Promise<pg.QueryResult> | undefined {
    const pending = this.#pendingCommit;
    this.#pendingCommit = undefined;
    this.#commitArmed = false;
    return pending;
  }

  #commitBehind(): void {
    if (!this.#commitArmed) return;
    this.#commitArmed = false;
    const commit = (super.query as (text: string) => Promise<pg.QueryResult>).call(this, "COMMIT");
    commit.catch(() => {}); // awaited by the transaction (takePendingCommit); never an unhandled rejection
    this.#pendingCommit = commit;
  }

  /**
   * Run `fn` with pipelining off on this connection (COPY streams and cursors need it): waits until every
   * query already on the wire is answered, then turns pipeline mode off until `fn` settles.
   */
  async unpipelined<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.pipelined) return fn();
    const self = this as unknown as { pipeline: boolean; _activeQuery?: unknown; _sentQueryQueue: unknown[]; _queryQueue: unknown[] };
    while (self._activeQuery || self._sentQueryQueue.length || self._queryQueue.length) await new Promise((r) => this.once("drain", r));
    self.pipeline = false;
    try {
      return await fn();
    } finally {
      self.pipeline = true;
    }
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
    const [, values, callback] = args;
    const superQuery = super.query as (...a: unknown[]) => unknown;
    if (this.#pendingCommit) {
      // The transaction's COMMIT already went out behind what was declared its last statement: a statement
      // now would run outside it (as the login role). A programming error: refuse it loudly.
      return Promise.reject(new Error("a statement after the transaction's COMMIT (declared oneStatement, or sent after the access record)")) as never;
    }
    const result = this.#send(superQuery, args);
    // A COMMIT armed for the transaction's last statement goes right behind it (pipelined: same round trip).
    if (typeof callback !== "function" && typeof values !== "function") this.#commitBehind();
    return result as never;
  }

  #send(superQuery: (...a: unknown[]) => unknown, args: unknown[]): unknown {
    const [config, values, callback] = args;
    // Without values pg uses the simple protocol (which allows several statements in one text): keep it.
    if (!this.preparedStatements || typeof config !== "string" || !Array.isArray(values) || values.length === 0) {
      return superQuery.apply(this, args);
    }
    const name = this.#nameFor(config);
    if (!name) return superQuery.apply(this, args);
    const named = { name, text: config, values };
    if (typeof callback === "function") {
      return superQuery.call(this, named, (err: Error, res: pg.QueryResult) => {
        if (err) this.#forget(config, name, err);
        (callback as QueryCallback)(err, res);
      });
    }
    return (superQuery.call(this, named) as Promise<pg.QueryResult>).catch((err: unknown) => {
      this.#forget(config, name, err);
      throw err;
    });
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
  /** Pipeline each transaction's statements (DB_PIPELINE); default false. */
  pipeline?: boolean;
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
    pipeline: opts.pipeline ?? false,
  } as pg.PoolConfig);
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  // ...and neither must one that loses its connection while checked out (a transaction in flight when the
  // server restarts): pg emits 'error' on the client, which would be an uncaught exception. The failing
  // query itself still rejects, and withTransaction maps that to UnavailableError.
  pool.on("connect", (client) => client.on("error", () => {}));
  return pool;
}
