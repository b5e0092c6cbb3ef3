/**
 * Probing the database as the application role (the isolation tests): run statements inside a transaction
 * that is always rolled back, each statement in its own savepoint so a refused one does not end the probe.
 */
import type pg from "pg";
import { expect } from "vitest";
import { mapDbError } from "../../src/db/errors";

/** Thrown to roll back a probing transaction; carries nothing. */
class Rollback extends Error {}

/**
 * Run `fn` inside the transaction `open` starts (db.tenant, db.transaction, ...) and roll it back whatever
 * `fn` wrote; an error of `fn` or of opening the transaction is rethrown.
 */
export async function rolledBack(
  open: (body: (c: pg.PoolClient) => Promise<never>) => Promise<unknown>,
  fn: (c: pg.PoolClient) => Promise<void>,
): Promise<void> {
  await open(async (c) => {
    await fn(c);
    throw new Rollback("roll back the probes");
  }).then(
    () => expect.unreachable("the probe transaction must roll back"),
    (e: unknown) => {
      if (!(e instanceof Rollback)) throw e;
    },
  );
}

/** One statement in its own savepoint: its row count and first row, or the typed error it raised. */
export async function inSavepoint(c: pg.PoolClient, sql: string, params: unknown[]): Promise<{ rowCount: number; row: unknown } | { error: unknown }> {
  await c.query("SAVEPOINT probe");
  try {
    const r = await c.query(sql, params);
    await c.query("RELEASE SAVEPOINT probe");
    return { rowCount: r.rowCount ?? 0, row: r.rows[0] };
  } catch (e) {
    await c.query("ROLLBACK TO SAVEPOINT probe");
    return { error: mapDbError(e) };
  }
}
