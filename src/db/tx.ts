/**
 * Transactions and tenant context: the only way the service layer talks to the database.
 *
 * withTransaction commits or rolls back, and re-runs the whole callback on serialization failures and
 * deadlocks (SQLSTATE 40001, 40P01) with jittered backoff, a bounded number of times. It also re-runs it,
 * at once, when a named prepared statement went stale on that connection (a migration changed a table
 * under a cached `SELECT *`: 0A000 "cached plan must not change result type"; or something deallocated
 * it: 26000): the client has already renamed or forgotten the statement (src/db/pool.ts), so the re-run
 * prepares it afresh and callers never see the error. The callback may therefore run more than once: keep
 * side effects outside the database out of it.
 *
 * On a pipelined pool (src/db/pool.ts, DB_PIPELINE) BEGIN and the context are sent without waiting for
 * their reply, so they ride with the body's first statement: a transaction of n statements costs n round
 * trips plus COMMIT, and n when COMMIT rides with the last one (`oneStatement`, or `commitBehindNext` from
 * a caller that knows which statement is last). A refused BEGIN message (a context check that raised) is
 * the error reported, not the "current transaction is aborted" of the statements behind it.
 *
 * withTenant adds the request's security context with transaction-local settings only
 * (set_config(..., true) = SET LOCAL): the role switches to the NOLOGIN role `app`, so grants and
 * row-level security apply even when the login user owns the tables, and `app.tenant_id` (and
 * `app.user_id`) feed the RLS policies. Nothing survives the transaction, which is what makes this safe
 * behind PgBouncer in transaction mode and on PGlite, where every connection shares one session.
 */
import type pg from "pg";
import { z } from "zod";
import { mapDbError } from "./errors";
import { isStaleStatement, PreparingClient } from "./pool";
import { parseInput } from "./validate";

/** The NOLOGIN role the service layer acts as; created by the first migration. */
export const APP_ROLE = "app";

export type Isolation = "read committed" | "repeatable read" | "serializable";

export interface TxOptions {
  isolation?: Isolation;
  readOnly?: boolean;
  /** Retries after a serialization failure or deadlock (default 5). */
  maxRetries?: number;
  /** Run as the application role `app` (SET LOCAL ROLE), so its grants apply. withTenant implies it. */
  asApp?: boolean;
  /**
   * A schema-qualified SQL function call (e.g. `<schema>.require_live_tenant()`, or with one constant word
   * argument `<schema>.require_permission('users:create')`) run right after the transaction-local settings,
   * in the same message: it raises to refuse the context (an unknown or deactivated tenant, a missing
   * permission) at no extra round trip. A constant of the calling domain or declaration, never input.
   */
  check?: string;
  /**
   * The body sends exactly one statement and nothing after it may undo it (a read): on a pipelined pool,
   * COMMIT goes right behind that statement, so BEGIN, context, statement and COMMIT make one round trip.
   */
  oneStatement?: boolean;
  /**
   * Per-call transaction-local settings (e.g. `hnsw.ef_search`, `statement_timeout`) sent with BEGIN, in the
   * same message: no statement of their own. Names are constants of the caller (not `role` nor `app.*`,
   * which the context owns); values are written as escaped literals.
   */
  settings?: Record<string, string>;
  /**
   * With read replicas (src/db/replicas.ts): whose call this is, for read-your-writes. A READ ONLY
   * transaction carrying it may run on a replica that has replayed past this caller's last write; a write
   * carrying it records its WAL position for that caller. The operation runner sets it from the context.
   */
  consistencyKey?: string;
}

/** What a per-call setting may be named: a plain or dotted GUC name, never the role or the tenant context. */
const SETTING_NAME = /^(?!role$|app\.)[a-z_]+(\.[a-z_]+)?$/;

/** Transaction-local settings (set_config(name, value, true) = SET LOCAL) applied right after BEGIN. */
type LocalSettings = Record<string, string>;

/**
 * BEGIN and the transaction-local settings as ONE simple-protocol message ("BEGIN ...; SELECT
 * set_config(...), ..."): one round trip instead of two for every call through withTenant. The simple
 * protocol takes no bind parameters, so the values are written as literals with pg's escapeLiteral (which
 * doubles quotes and backslashes); they are only the role name `app` and UUIDs already validated by zod.
 */
function beginText(client: pg.ClientBase, begin: string, settings: LocalSettings, check?: string): string {
  const entries = Object.entries(settings);
  if (check !== undefined && !CHECK_CALL.test(check))
    throw new Error(`transaction check must be a schema-qualified function call with at most one constant argument, got ${check}`);
  const lit = (v: string) => client.escapeLiteral(v);
  const setAll = entries.length ? `; SELECT ${entries.map(([k, v]) => `set_config(${lit(k)}, ${lit(v)}, true)`).join(", ")}` : "";
  return `${begin}${setAll}${check ? `; SELECT ${check}` : ""}`;
}

/** What TxOptions.check may be: `schema.function()` or `schema.function('word:word')`, nothing else (it is written into SQL). */
const CHECK_CALL = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\((?:'[a-z_:*]+')?\)$/;

const RETRYABLE = new Set(["40001", "40P01"]);

function perCall(settings: Record<string, string> | undefined): LocalSettings {
  for (const name of Object.keys(settings ?? {})) if (!SETTING_NAME.test(name)) throw new Error(`per-call setting ${name} is not allowed`);
  return settings ?? {};
}

/**
 * Re-runs for stale prepared statements, counted apart from maxRetries: each connection of the pool can
 * hold its own stale copy once, so this bounds them by a pool size nobody exceeds rather than by 5.
 */
const MAX_STALE_STATEMENT_RERUNS = 64;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, opts: TxOptions = {}): Promise<T> {
  return inTransaction(pool, fn, opts, opts.asApp ? { role: APP_ROLE } : {});
}

async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, opts: TxOptions, settings: LocalSettings): Promise<T> {
  const maxRetries = opts.maxRetries ?? 5;
  const begin = ["BEGIN", opts.isolation ? `ISOLATION LEVEL ${opts.isolation.toUpperCase()}` : "", opts.readOnly ? "READ ONLY" : ""].filter(Boolean).join(" ");
  let retries = 0; // after serialization failures and deadlocks
  let reruns = 0; // after stale prepared statements
  for (;;) {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      throw mapDbError(e);
    }
    const pipelined = client instanceof PreparingClient && client.pipelined ? client : undefined;
    let opened: Promise<unknown> | undefined;
    try {
      const text = beginText(client, begin, { ...perCall(opts.settings), ...settings }, opts.check);
      if (pipelined) {
        // Not awaited: it goes out with the body's first statement. Its outcome is checked below.
        opened = client.query(text);
        opened.catch(() => {});
        if (opts.oneStatement) pipelined.armCommit();
      } else {
        await client.query(text);
      }
      const result = await fn(client);
      if (opened) await opened;
      const committing = pipelined?.takePendingCommit();
      await (committing ?? client.query("COMMIT"));
      client.release();
      return result;
    } catch (caught) {
      // A refused BEGIN message is the cause; the statements behind it only saw an aborted transaction.
      const e =
        (opened &&
          (await opened.then(
            () => undefined,
            (b: unknown) => b,
          ))) ||
        caught;
      let broken: Error | undefined;
      const sentCommit = pipelined?.takePendingCommit();
      try {
        // A COMMIT already sent behind the last statement ended the transaction (as ROLLBACK if it failed).
        if (sentCommit) await sentCommit.catch(() => undefined);
        else await client.query("ROLLBACK");
      } catch (rollbackError) {
        broken = rollbackError as Error; // the connection is unusable: destroy it, do not pool it
      }
      client.release(broken);
      if (isStaleStatement(e) && reruns < MAX_STALE_STATEMENT_RERUNS) {
        reruns++;
        continue;
      }
      const code = (e as { code?: unknown }).code;
      if (typeof code === "string" && RETRYABLE.has(code) && retries < maxRetries) {
        await sleep(Math.min(1000, 5 * 2 ** retries) * (0.5 + Math.random()));
        retries++;
        continue;
      }
      throw mapDbError(e);
    }
  }
}

/**
 * Send COMMIT right behind the next statement on `client` (pipelined pools only; otherwise nothing): for a
 * caller that knows that statement is its transaction's last, such as the operation runner writing the
 * data-access record. The transaction then awaits that COMMIT instead of sending its own.
 */
export function commitBehindNext(client: pg.ClientBase): void {
  if (client instanceof PreparingClient) client.armCommit();
}

/** Set the tenant for row-level security for the rest of the transaction only (no role switch). */
export async function setLocalTenant(client: pg.ClientBase, tenantId: string): Promise<void> {
  await client.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);
}

export interface TenantContext {
  tenantId: string;
  /** For tables private to a user inside a tenant (RLS on app.user_id). */
  userId?: string;
}

const tenantContext = z.object({ tenantId: z.uuid(), userId: z.uuid().optional() });

export async function withTenant<T>(pool: pg.Pool, ctx: TenantContext | string, fn: (client: pg.PoolClient) => Promise<T>, opts: TxOptions = {}): Promise<T> {
  const c = parseInput(tenantContext, typeof ctx === "string" ? { tenantId: ctx } : ctx, "tenant context");
  // Sent with BEGIN (see beginText); set_config(name, value, true) is exactly SET LOCAL, including for `role`.
  return inTransaction(pool, fn, opts, { role: APP_ROLE, "app.tenant_id": c.tenantId, "app.user_id": c.userId ?? "" });
}
