/**
 * Issue 7, item 7 (migration atomicity): all pending migrations run in one transaction, so a migration that
 * fails half-way leaves the schema exactly as it was; and two runs started at once do not both apply.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { catalogDump } from "../support/catalog";
import type { Engine } from "../../src/db/engine";
import { MIGRATIONS_DIR, migrate } from "../../src/tools/migrate";
import { createTestEngine, describeServer, SERVER_ONLY_REASON } from "../support/db";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function emptyDb(): Promise<{ engine: Engine; pool: pg.Pool }> {
  const engine = await createTestEngine({ empty: true });
  const pool = new pg.Pool({ connectionString: engine.url, max: 2 });
  cleanup.push(
    () => engine.stop(),
    () => pool.end(),
  );
  return { engine, pool };
}

/** migrations/ plus one more migration that creates a table and then fails. */
function dirWithFailingMigration(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgf-migrations-"));
  for (const f of fs.readdirSync(MIGRATIONS_DIR)) fs.copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(dir, f));
  fs.writeFileSync(
    path.join(dir, "99991231235959999_fails_half_way.sql"),
    "-- Migration: fails half-way (test)\n\n-- Up Migration\nCREATE TABLE public.half_way (id int);\nSELECT 1 / 0;\n\n-- Down Migration\nDROP TABLE public.half_way;\n",
  );
  cleanup.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe("migration atomicity", () => {
  it("a migration failing half-way leaves the schema exactly as it was, earlier pending ones included", async () => {
    const { engine, pool } = await emptyDb();
    const before = await catalogDump(pool);
    await expect(migrate(engine.url, { direction: "up", dir: dirWithFailingMigration() })).rejects.toThrow(/division by zero/);
    expect(await catalogDump(pool)).toEqual(before);
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM public.pgmigrations");
    expect(rows[0].n).toBe(0);
    // And the real migrations still apply cleanly afterwards.
    expect((await migrate(engine.url, { direction: "up" })).length).toBe(fs.readdirSync(MIGRATIONS_DIR).length);
  });
});

describeServer(`concurrent migrate runs (server engine; ${SERVER_ONLY_REASON})`, () => {
  it("two runs started at once: the migrations are applied exactly once", async () => {
    const { engine, pool } = await emptyDb();
    const results = await Promise.allSettled([migrate(engine.url, { direction: "up" }), migrate(engine.url, { direction: "up" })]);
    const applied = results.flatMap((r) => (r.status === "fulfilled" ? r.value : []));
    expect(applied.sort()).toEqual(
      fs
        .readdirSync(MIGRATIONS_DIR)
        .map((f) => f.replace(/\.sql$/, ""))
        .sort(),
    );
    for (const r of results) if (r.status === "rejected") expect(String(r.reason)).toMatch(/lock|already running/i);
    const { rows } = await pool.query("SELECT name, count(*)::int AS n FROM public.pgmigrations GROUP BY name HAVING count(*) > 1");
    expect(rows).toEqual([]);
  });
});
