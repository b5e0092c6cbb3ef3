/**
 * Issue 7, item 8 (part): more callers than the pool holds queue and finish; a caller past the acquire
 * timeout gets a typed TimeoutError; a runaway statement is stopped by the configured statement timeout.
 */
import { afterAll, describe, expect, it } from "vitest";
import { type Db, dbFor } from "../../src/db/connect";
import { TimeoutError } from "../../src/db/errors";
import { engineKind, testConfig, useTestDb } from "../support/db";

const t = useTestDb();
const extra: Db[] = [];
afterAll(() => Promise.all(extra.map((d) => d.pool.end())));

/** Another pool over the same database, with its own settings. */
function poolWith(env: Record<string, string>): Db {
  const d = dbFor(t.engine, testConfig(t.engine.url, env));
  extra.push(d);
  return d;
}

describe("pool exhaustion and timeouts", () => {
  it("100 concurrent callers through a pool of 3 all finish, with correct results", async () => {
    const small = poolWith({ DB_POOL_MAX: "3" });
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        small.transaction(async (c) => {
          const { rows } = await c.query("SELECT $1::int * 2 AS v", [i]);
          await new Promise((r) => setTimeout(r, 2));
          return rows[0].v;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 100 }, (_, i) => i * 2));
    expect(small.pool.totalCount).toBeLessThanOrEqual(3);
  });

  it("a caller that cannot get a connection in time gets a TimeoutError, and the pool still works after", async () => {
    const tiny = poolWith({ DB_POOL_MAX: "1", DB_CONNECT_TIMEOUT_MS: "200" });
    const held = await tiny.pool.connect();
    const started = Date.now();
    const err = await tiny.transaction((c) => c.query("SELECT 1")).catch((e) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.message).toContain("waiting for a database connection");
    expect(Date.now() - started).toBeLessThan(5_000);
    held.release();
    expect(await tiny.transaction(async (c) => (await c.query("SELECT 1 AS one")).rows[0].one)).toBe(1);
  });

  it.skipIf(engineKind === "embedded")(
    "DB_STATEMENT_TIMEOUT_MS stops a runaway statement with a TimeoutError (server engine: PGlite does not interrupt statements)",
    async () => {
      const strict = poolWith({ DB_STATEMENT_TIMEOUT_MS: "200" });
      const started = Date.now();
      const err = await strict.transaction((c) => c.query("SELECT pg_sleep(5)")).catch((e) => e);
      expect(err).toBeInstanceOf(TimeoutError);
      expect(err.sqlstate).toBe("57014");
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(await strict.transaction(async (c) => (await c.query("SELECT 1 AS one")).rows[0].one)).toBe(1);
    },
  );
});
