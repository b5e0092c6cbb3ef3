/**
 * The DB_PREPARED_STATEMENTS switch (src/db/pool.ts): parameterised queries run as named prepared
 * statements, per connection, on both engines — including the embedded one, where every connection
 * shares one PostgreSQL session and a shared statement name would fail with "already exists".
 */
import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config";
import { type Db, dbFor } from "../../src/db/connect";
import { ConfigError } from "../../src/db/errors";
import { PreparingClient, statementName } from "../../src/db/pool";
import { entityById } from "../../src/screening/queries/entities.queries";
import { engineKind, testConfig, useTestDb } from "../support/db";

const t = useTestDb();
const extra: Db[] = [];
afterAll(() => Promise.all(extra.map((d) => d.pool.end().catch(() => {}))));

function poolWith(env: Record<string, string>): Db {
  const d = dbFor(t.engine, testConfig(t.engine.url, env));
  extra.push(d);
  return d;
}

/** Statements in the session whose name starts with the hash part of `text`'s name. */
async function preparedFor(db: Db, text: string): Promise<string[]> {
  const prefix = statementName(text, "x").replace(/_x$/, "");
  const { rows } = await db.pool.query<{ name: string }>("SELECT name FROM pg_prepared_statements WHERE starts_with(name, $1)", [prefix]);
  return rows.map((r) => r.name);
}

const A = "0190a000-0000-7000-8000-00000000000a";
const B = "0190b000-0000-7000-8000-00000000000b";

beforeAll(async () => {
  await t.db.pool.query(`
    CREATE TABLE public.ps_notes (id serial PRIMARY KEY, tenant_id uuid NOT NULL, body text NOT NULL);
    ALTER TABLE public.ps_notes ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON public.ps_notes USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
    GRANT SELECT ON public.ps_notes TO app;
    INSERT INTO public.ps_notes (tenant_id, body) VALUES ('${A}', 'a1'), ('${A}', 'a2'), ('${B}', 'b1');
  `);
});

describe("DB_PREPARED_STATEMENTS", () => {
  it("is on by default and parses true/false", () => {
    expect(loadConfig({}).preparedStatements).toBe(true);
    expect(loadConfig({ DB_PREPARED_STATEMENTS: "false" }).preparedStatements).toBe(false);
    expect(loadConfig({ DB_PREPARED_STATEMENTS: "off" }).preparedStatements).toBe(false);
    expect(loadConfig({ DB_PREPARED_STATEMENTS: "true" }).preparedStatements).toBe(true);
    expect(() => loadConfig({ DB_PREPARED_STATEMENTS: "maybe" })).toThrow(ConfigError);
  });

  it("on: a generated query runs as a named statement, prepared once per connection", async () => {
    const db = poolWith({ DB_POOL_MAX: "1", DB_PREPARED_STATEMENTS: "true" });
    const id = crypto.randomUUID();
    const tenantId = crypto.randomUUID();
    const text = "SELECT $1::int + 4242 AS v";
    for (let i = 0; i < 5; i++) expect((await db.pool.query(text, [i])).rows[0].v).toBe(4242 + i);
    expect(await preparedFor(db, text)).toHaveLength(1);
    // A pgtyped query: same path (client.query(text, values)).
    await db.transaction((c) => entityById.run({ tenantId, entityId: id, includeDeleted: false }, c));
    const client = await db.pool.connect();
    try {
      expect(client).toBeInstanceOf(PreparingClient);
      expect((client as unknown as PreparingClient).namedStatementCount).toBeGreaterThanOrEqual(2);
    } finally {
      client.release();
    }
  });

  it("off: the same calls run unnamed and prepare nothing", async () => {
    const db = poolWith({ DB_POOL_MAX: "1", DB_PREPARED_STATEMENTS: "false" });
    const text = "SELECT $1::int + 4343 AS v";
    for (let i = 0; i < 3; i++) expect((await db.pool.query(text, [i])).rows[0].v).toBe(4343 + i);
    expect(await preparedFor(db, text)).toEqual([]);
  });

  it("many connections (and two pools) running the same statements concurrently never collide", async () => {
    // On the embedded engine all these connections share one session: names are per connection.
    const one = poolWith({ DB_POOL_MAX: "6" });
    const two = poolWith({ DB_POOL_MAX: "6" });
    const text = "SELECT $1::int * 2 AS v";
    const results = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        (i % 2 ? one : two).tenant(i % 3 ? A : B, async (c) => {
          const { rows } = await c.query(text, [i]);
          const notes = await c.query("SELECT body FROM public.ps_notes WHERE $1::boolean ORDER BY body", [true]);
          return { v: rows[0].v, notes: notes.rows.map((r) => r.body).join(",") };
        }),
      ),
    );
    expect(results.map((r) => r.v)).toEqual(Array.from({ length: 120 }, (_, i) => i * 2));
    expect(results.map((r) => r.notes)).toEqual(Array.from({ length: 120 }, (_, i) => (i % 3 ? "a1,a2" : "b1")));
    expect((await preparedFor(one, text)).length).toBeGreaterThanOrEqual(1);
  });

  it("tenant context stays correct for a cached plan: role and tenant switch on one connection", async () => {
    const db = poolWith({ DB_POOL_MAX: "1" });
    const sql = "SELECT string_agg(body, ',' ORDER BY body) AS b FROM public.ps_notes WHERE $1::boolean";
    const seen: string[] = [];
    for (const tenant of [A, B, A, B, A, B, A]) seen.push((await db.tenant(tenant, (c) => c.query(sql, [true]))).rows[0].b);
    expect(seen).toEqual(["a1,a2", "b1", "a1,a2", "b1", "a1,a2", "b1", "a1,a2"]);
    // As `app` without a tenant, RLS shows nothing, with the same cached statement.
    expect((await db.transaction((c) => c.query(sql, [true]), { asApp: true })).rows[0].b).toBeNull();
  });

  it("ending a connection deallocates its statements (a shared embedded session keeps none)", async () => {
    const db = poolWith({ DB_POOL_MAX: "2" });
    const text = "SELECT $1::int - 777 AS v";
    await Promise.all([db.pool.query(text, [1]), db.pool.query(text, [2])]);
    // On a server each connection has its own session (and takes its statements with it); on the
    // embedded engine the statements are visible from any connection until deallocated.
    if (engineKind === "embedded") expect((await preparedFor(t.db, text)).length).toBeGreaterThanOrEqual(1);
    await db.pool.end();
    extra.splice(extra.indexOf(db), 1);
    expect(await preparedFor(t.db, text)).toEqual([]);
  });

  it("recovers when a table's columns change under a cached SELECT * (0A000) or a statement vanishes (26000)", async () => {
    const db = poolWith({ DB_POOL_MAX: "1" });
    await db.pool.query("CREATE TABLE public.ps_shape (id int PRIMARY KEY, a text)");
    await db.pool.query("INSERT INTO public.ps_shape VALUES (1, 'x')");
    const sql = "SELECT * FROM public.ps_shape WHERE id = $1";
    expect((await db.pool.query(sql, [1])).rows[0]).toEqual({ id: 1, a: "x" });
    await db.pool.query("ALTER TABLE public.ps_shape ADD COLUMN b int NOT NULL DEFAULT 7");
    // The first call may fail (PostgreSQL refuses to change a prepared statement's result type)...
    await db.pool.query(sql, [1]).catch((e) => expect(e.code).toBe("0A000"));
    // ...and the next one is prepared afresh.
    expect((await db.pool.query(sql, [1])).rows[0]).toEqual({ id: 1, a: "x", b: 7 });

    await db.pool.query("DEALLOCATE ALL");
    await db.pool.query(sql, [1]).catch((e) => expect(e.code).toBe("26000"));
    expect((await db.pool.query(sql, [1])).rows[0]).toEqual({ id: 1, a: "x", b: 7 });
  });

  it("a transaction meeting a stale statement on any connection is re-run at once: callers never see 0A000 or 26000", async () => {
    const db = poolWith({ DB_POOL_MAX: "3" });
    await db.pool.query("CREATE TABLE public.ps_rerun (id int PRIMARY KEY, a text)");
    await db.pool.query("INSERT INTO public.ps_rerun VALUES (1, 'x')");
    const sql = "SELECT * FROM public.ps_rerun WHERE id = $1";
    // Prepare the statement on all three connections (three transactions held open at once).
    let runs = 0;
    const read = () => db.transaction(async (c) => (runs++, (await c.query(sql, [1])).rows[0]));
    const hold = () => db.transaction(async (c) => (await c.query(sql, [1]), await c.query("SELECT pg_sleep(0.05)")));
    await Promise.all([hold(), hold(), hold()]);
    await t.db.pool.query("ALTER TABLE public.ps_rerun ADD COLUMN b int NOT NULL DEFAULT 7");
    runs = 0;
    // Three callers at once, each on a connection with the stale statement: every one succeeds.
    expect(await Promise.all([read(), read(), read()])).toEqual(Array(3).fill({ id: 1, a: "x", b: 7 }));
    // PGlite serves one query at a time, so the connections' failures may land on fewer callers; on a
    // server each of the three connections failed once.
    expect(runs).toBeGreaterThan(3);
    await db.pool.query("DEALLOCATE ALL");
    expect(await read()).toEqual({ id: 1, a: "x", b: 7 });
  });
});
