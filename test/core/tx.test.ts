import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { ConflictError, ForbiddenError, ValidationError } from "../../src/db/errors";
import { withTransaction } from "../../src/db/tx";
import { describeServer, SERVER_ONLY_REASON, useTestDb } from "../support/db";

const t = useTestDb();
const A = "0190a000-0000-7000-8000-00000000000a";
const B = "0190b000-0000-7000-8000-00000000000b";

beforeAll(async () => {
  // A tenant-owned fixture table, protected the way every domain table is: RLS enabled and forced,
  // policy on app.tenant_id, privileges for the `app` role only.
  await t.db.pool.query(`
    CREATE TABLE public.notes (id serial PRIMARY KEY, tenant_id uuid NOT NULL, body text NOT NULL);
    ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON public.notes
      USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
      WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
    GRANT SELECT, INSERT, UPDATE, DELETE ON public.notes TO app;
    GRANT USAGE ON SEQUENCE public.notes_id_seq TO app;
    INSERT INTO public.notes (tenant_id, body) VALUES ('${A}', 'a1'), ('${A}', 'a2'), ('${B}', 'b1');
    CREATE TABLE public.counter (id int PRIMARY KEY, n int NOT NULL);
    INSERT INTO public.counter VALUES (1, 0);
  `);
});

const count = async (sql: string) => Number((await t.db.pool.query<{ n: string }>(sql)).rows[0]?.n);

describe("withTransaction", () => {
  it("commits the callback's work and returns its value", async () => {
    const v = await t.db.transaction(async (c) => {
      await c.query("UPDATE public.counter SET n = n + 1 WHERE id = 1");
      return 42;
    });
    expect(v).toBe(42);
    expect(await count("SELECT n FROM public.counter")).toBe(1);
  });

  it("rolls back everything when the callback throws, and rethrows", async () => {
    const boom = new Error("boom");
    await expect(
      t.db.transaction(async (c) => {
        await c.query("UPDATE public.counter SET n = n + 100 WHERE id = 1");
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await count("SELECT n FROM public.counter")).toBe(1);
  });

  it.each(["40001", "40P01"])("retries SQLSTATE %s, keeping only the successful attempt's writes", async (code) => {
    let attempts = 0;
    const before = await count("SELECT n FROM public.counter");
    await t.db.transaction(async (c) => {
      attempts++;
      await c.query("UPDATE public.counter SET n = n + 1 WHERE id = 1");
      if (attempts < 3) await c.query(`DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '${code}'; END $$`);
    });
    expect(attempts).toBe(3);
    expect(await count("SELECT n FROM public.counter")).toBe(before + 1);
  });

  it("gives up after maxRetries with a ConflictError", async () => {
    let attempts = 0;
    const err = await withTransaction(
      t.db.pool,
      async (c) => {
        attempts++;
        await c.query("DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '40001'; END $$");
      },
      { maxRetries: 2 },
    ).catch((e) => e);
    expect(attempts).toBe(3);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err.sqlstate).toBe("40001");
  });

  it("returns connections to the pool after failures", async () => {
    for (let i = 0; i < 20; i++) await t.db.transaction((c) => c.query("SELECT 1/0")).catch(() => {});
    expect(t.db.pool.totalCount).toBeLessThanOrEqual(8);
    expect(t.db.pool.waitingCount).toBe(0);
    expect(await t.db.transaction(async (c) => (await c.query("SELECT 1 AS one")).rows[0].one)).toBe(1);
  });
});

describe("withTenant", () => {
  it("runs as the app role with the tenant set, and sees only that tenant's rows", async () => {
    const seen = await t.db.tenant(A, async (c) => {
      const who = await c.query("SELECT current_user AS u, current_setting('app.tenant_id') AS t");
      const rows = await c.query("SELECT body FROM public.notes ORDER BY body");
      return { who: who.rows[0], bodies: rows.rows.map((r) => r.body) };
    });
    expect(seen.who).toEqual({ u: "app", t: A });
    expect(seen.bodies).toEqual(["a1", "a2"]);
    expect(await t.db.tenant(B, async (c) => (await c.query("SELECT body FROM public.notes")).rows.map((r) => r.body))).toEqual(["b1"]);
  });

  it("rejects writing another tenant's row (RLS WITH CHECK) and leaves the data as it was", async () => {
    const err = await t.db
      .tenant(A, async (c) => {
        await c.query("INSERT INTO public.notes (tenant_id, body) VALUES ($1, 'ok')", [A]);
        await c.query("INSERT INTO public.notes (tenant_id, body) VALUES ($1, 'sneaky')", [B]);
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(ForbiddenError);
    expect(await count("SELECT count(*) AS n FROM public.notes")).toBe(3);
    // Updates and deletes aimed at B's rows touch nothing.
    const touched = await t.db.tenant(A, async (c) => {
      const u = await c.query("UPDATE public.notes SET body = 'x' WHERE tenant_id = $1", [B]);
      const d = await c.query("DELETE FROM public.notes WHERE tenant_id = $1", [B]);
      return (u.rowCount ?? 0) + (d.rowCount ?? 0);
    });
    expect(touched).toBe(0);
  });

  it("as the app role with no tenant set, sees nothing", async () => {
    const rows = await t.db.transaction(async (c) => {
      await c.query("SET LOCAL ROLE app");
      return (await c.query("SELECT * FROM public.notes")).rows;
    });
    expect(rows).toEqual([]);
  });

  it("leaves no role or tenant behind on the connection (SET LOCAL only)", async () => {
    await t.db.tenant(A, (c) => c.query("SELECT 1"));
    // Check every pooled connection (on PGlite they are one session anyway).
    const clients = await Promise.all(Array.from({ length: 4 }, () => t.db.pool.connect()));
    try {
      for (const c of clients) {
        const r = await c.query("SELECT current_user AS u, coalesce(current_setting('app.tenant_id', true), '') AS t");
        expect(r.rows[0]).toEqual({ u: "postgres", t: "" });
      }
    } finally {
      for (const c of clients) c.release();
    }
  });

  it("refuses a tenant id that is not a UUID, naming the field", async () => {
    const err = await t.db.tenant("tenant-a' OR 1=1 --", (c) => c.query("SELECT 1")).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.fields).toEqual(["tenantId"]);
    expect(err.message).not.toContain("OR 1=1");
  });
});

describeServer(`concurrency (server engine; ${SERVER_ONLY_REASON})`, () => {
  it("resolves real serialization failures between racing SERIALIZABLE transactions by retrying", async () => {
    await t.db.pool.query("CREATE TABLE public.ledger (k int, v int); INSERT INTO public.ledger VALUES (1, 0)");
    const racers = 8;
    let attempts = 0;
    await Promise.all(
      Array.from({ length: racers }, () =>
        t.db.transaction(
          async (c) => {
            attempts++;
            const { rows } = await c.query("SELECT max(v) AS s FROM public.ledger");
            await new Promise((r) => setTimeout(r, 10));
            await c.query("INSERT INTO public.ledger VALUES (1, $1)", [rows[0].s + 1]);
          },
          { isolation: "serializable", maxRetries: 50 },
        ),
      ),
    );
    // Every writer saw every earlier commit: the values are exactly 0..racers, no lost update.
    const { rows } = await t.db.pool.query<{ v: number }>("SELECT v FROM public.ledger ORDER BY v");
    expect(rows.map((r) => r.v)).toEqual(Array.from({ length: racers + 1 }, (_, i) => i));
    expect(attempts).toBeGreaterThan(racers); // some attempts really did conflict and retry
  });

  it("keeps tenants apart across many concurrent sessions", async () => {
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const tenant = i % 2 ? A : B;
        return t.db.tenant(tenant, async (c) => {
          await new Promise((r) => setTimeout(r, Math.random() * 5));
          const { rows } = await c.query("SELECT DISTINCT tenant_id FROM public.notes");
          return { tenant, seen: rows.map((r) => r.tenant_id) };
        });
      }),
    );
    for (const r of results) expect(r.seen).toEqual([r.tenant]);
  });
});

describe("pool", () => {
  it("is a pg.Pool sized by configuration", () => {
    expect(t.db.pool).toBeInstanceOf(pg.Pool);
    expect(t.db.pool.options.max).toBe(8);
  });
});
