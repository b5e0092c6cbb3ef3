/**
 * Issue 17, item 1: checksums of applied migrations. `migrate` records the sha256 of each file it applies in
 * the migration's own transaction; it refuses, naming the file, when an applied file changed or vanished or
 * a pending one sorts before an applied one; `repairChecksum` records an accepted edit with its reason; a
 * database migrated before checksums were kept has them adopted on the first run. Small migrations in a
 * temporary directory on an empty database, both engines.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { runner } from "node-pg-migrate";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/db/engine";
import { ValidationError } from "../../src/db/errors";
import { doctor } from "../../src/tools/doctor";
import { fileChecksum, integrityProblems, MigrationIntegrityError, migrate, migrationState, repairChecksum } from "../../src/tools/migrate";
import { createTestEngine } from "../support/db";

// One empty database for the file (a new PGlite costs seconds); each test starts from an empty public schema.
let engine: Engine;
let pool: pg.Pool;
beforeAll(async () => {
  engine = await createTestEngine({ empty: true });
  pool = new pg.Pool({ connectionString: engine.url, max: 2 });
});
afterAll(async () => {
  await pool?.end();
  await engine?.stop();
});
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  await pool.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
});

const migration = (table: string) =>
  `-- Migration: ${table} (test)\n\n-- Up Migration\nCREATE TABLE public.${table} (id int PRIMARY KEY);\n\n-- Down Migration\nDROP TABLE public.${table};\n`;

/** A migrations directory with files a, b (and more on request) and an empty database. */
async function setup(names = ["20260101000000000_a", "20260102000000000_b"]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgf-checksums-"));
  for (const n of names) fs.writeFileSync(path.join(dir, `${n}.sql`), migration(n.replace(/^\d+_/, "t_")));
  cleanup.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  const file = (n: string) => path.join(dir, `${n}.sql`);
  const log = async () =>
    (await pool.query("SELECT name, sha256, event, reason, run_by, db_role FROM public.pgmigrations_checksums ORDER BY id")).rows as {
      name: string;
      sha256: string;
      event: string;
      reason: string | null;
      run_by: string;
      db_role: string;
    }[];
  return { dir, engine, pool, file, log, up: () => migrate(engine.url, { direction: "up", dir }) };
}

describe("migration checksums", () => {
  it("each applied migration leaves its file's sha256, who ran it and the database role, and a revert says so", async () => {
    const s = await setup();
    expect(await s.up()).toEqual(["20260101000000000_a", "20260102000000000_b"]);
    const rows = await s.log();
    expect(rows.map((r) => [r.name, r.event])).toEqual([
      ["20260101000000000_a", "applied"],
      ["20260102000000000_b", "applied"],
    ]);
    expect(rows[0]?.sha256).toBe(fileChecksum(s.file("20260101000000000_a")));
    expect(rows[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]?.run_by).toBe(`${os.userInfo().username}@${os.hostname()}`);
    expect(rows[0]?.db_role).toBe((await s.pool.query("SELECT session_user AS u")).rows[0].u);

    expect(await migrate(s.engine.url, { direction: "down", dir: s.dir })).toEqual(["20260102000000000_b"]);
    expect((await s.log()).at(-1)).toMatchObject({ name: "20260102000000000_b", event: "reverted" });
    // Reverted migrations are not checked: b may change before it is applied again, and its new sum counts.
    fs.appendFileSync(s.file("20260102000000000_b"), "-- reviewed again\n");
    expect(await s.up()).toEqual(["20260102000000000_b"]);
    expect((await s.log()).at(-1)).toMatchObject({ event: "applied", sha256: fileChecksum(s.file("20260102000000000_b")) });
  });

  it("a migration failing half-way records no checksum (the row is in the migration's transaction)", async () => {
    const s = await setup(["20260101000000000_a"]);
    fs.writeFileSync(
      path.join(s.dir, "20260102000000000_fails.sql"),
      "-- Migration: fails\n\n-- Up Migration\nSELECT 1 / 0;\n\n-- Down Migration\nSELECT 1;\n",
    );
    await expect(s.up()).rejects.toThrow(/division by zero/);
    expect(await s.log()).toEqual([]);
  });

  it("an applied file edited afterwards: migrate and doctor refuse, naming it, and nothing pending runs", async () => {
    const s = await setup();
    await s.up();
    fs.writeFileSync(s.file("20260101000000000_a"), migration("t_a").replace("id int", "id bigint"));
    fs.writeFileSync(path.join(s.dir, "20260103000000000_c.sql"), migration("t_c"));

    const refused = await s.up().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MigrationIntegrityError);
    expect((refused as MigrationIntegrityError).problems).toEqual([
      expect.stringMatching(/^migrations\/20260101000000000_a\.sql changed after it was applied .*make migrate-repair name=20260101000000000_a/),
    ]);
    expect((await s.pool.query("SELECT to_regclass('public.t_c') AS t")).rows[0].t).toBeNull();
    expect(integrityProblems(await migrationState(s.pool, s.dir))).toEqual((refused as MigrationIntegrityError).problems);

    // Line endings alone are not an edit (a Windows checkout with autocrlf).
    fs.writeFileSync(s.file("20260101000000000_a"), migration("t_a").replace(/\n/g, "\r\n"));
    expect(await s.up()).toEqual(["20260103000000000_c"]);
  });

  it("make migrate-repair records an accepted edit with its reason, then migrate goes on", async () => {
    const s = await setup();
    await s.up();
    fs.appendFileSync(s.file("20260102000000000_b"), "COMMENT ON TABLE public.t_b IS 'hotfix applied by hand on 2026-11-28';\n");
    await expect(s.up()).rejects.toThrow(/20260102000000000_b\.sql changed after it was applied/);

    await expect(repairChecksum(s.engine.url, "20260102000000000_b", "  ", s.dir)).rejects.toThrow(ValidationError);
    await expect(repairChecksum(s.engine.url, "20260109000000000_x", "why", s.dir)).rejects.toThrow(/not an applied migration/);
    await expect(repairChecksum(s.engine.url, "20260101000000000_a", "why", s.dir)).rejects.toThrow(/unchanged: nothing to repair/);
    expect((await s.log()).length).toBe(2);

    const r = await repairChecksum(s.engine.url, "20260102000000000_b", "hotfix INC-42 was applied by hand; file brought in line", s.dir);
    expect(r.now).toBe(fileChecksum(s.file("20260102000000000_b")));
    expect((await s.log()).at(-1)).toMatchObject({
      name: "20260102000000000_b",
      event: "repaired",
      reason: "hotfix INC-42 was applied by hand; file brought in line",
    });
    expect(await s.up()).toEqual([]);
  });

  it("a vanished applied file and a pending file sorting before an applied one are refused, by name", async () => {
    const s = await setup();
    await s.up();
    fs.renameSync(s.file("20260102000000000_b"), path.join(s.dir, "20251231000000000_b_renamed.sql"));
    const refused = (await s.up().catch((e: unknown) => e)) as MigrationIntegrityError;
    expect(refused.problems).toEqual([
      expect.stringMatching(/^20260102000000000_b: applied, but its file is gone/),
      expect.stringMatching(/^migrations\/20251231000000000_b_renamed\.sql is pending but sorts before the applied 20260101000000000_a/),
    ]);
    expect((await s.pool.query("SELECT count(*)::int AS n FROM public.pgmigrations")).rows[0].n).toBe(2);
  });

  it("a database migrated before checksums were kept: doctor says so, the first run adopts them, then doctor is satisfied", async () => {
    const s = await setup();
    // node-pg-migrate alone, as the project ran before checksums.
    await runner({
      databaseUrl: s.engine.url,
      dir: s.dir,
      migrationsTable: "pgmigrations",
      direction: "up",
      singleTransaction: true,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    const before = (await doctor(s.pool, { dir: s.dir })).find((r) => r.name.startsWith("migrations applied"));
    expect(before?.problems).toContain("no checksum recorded yet for 2 applied migration(s): run make migrate once to adopt them (docs/dba.md)");

    const adopted: string[] = [];
    expect(await migrate(s.engine.url, { direction: "up", dir: s.dir, onAdopted: (n) => adopted.push(n) })).toEqual([]);
    expect(adopted).toEqual(["20260101000000000_a", "20260102000000000_b"]);
    expect((await s.log()).map((r) => [r.name, r.event, r.sha256])).toEqual([
      ["20260101000000000_a", "adopted", fileChecksum(s.file("20260101000000000_a"))],
      ["20260102000000000_b", "adopted", fileChecksum(s.file("20260102000000000_b"))],
    ]);
    expect(integrityProblems(await migrationState(s.pool, s.dir))).toEqual([]);
  });
});
