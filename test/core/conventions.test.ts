/**
 * Catalog conventions and `make doctor`, checked against the fully migrated schema. The rules live once, in
 * src/db/doctor.ts; here each must hold, and each must be able to fail (shown on deliberately bad tables).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CONVENTIONS, checkConventions, doctor, formatReport } from "../../src/tools/doctor";
import { lintConcurrentMigrations } from "../../src/tools/migrate";
import { useTestDb } from "../support/db";

const t = useTestDb();

describe("schema conventions", () => {
  it.each(CONVENTIONS.map((c) => [c.name]))("%s", async (name) => {
    const result = (await checkConventions(t.db.pool)).find((r) => r.name === name);
    expect(result?.problems).toEqual([]);
  });

  it("each rule catches a table that breaks it", async () => {
    await t.db.pool.query(`
      CREATE SCHEMA bad;
      CREATE TABLE bad.no_pk (at timestamp, tenant_id uuid);
      CREATE TABLE bad.parent (id int PRIMARY KEY);
      COMMENT ON TABLE bad.parent IS 'fine';
      CREATE TABLE bad.child (id int PRIMARY KEY, parent_id int REFERENCES bad.parent (id));
      CREATE TABLE bad.log (id int, created_at timestamptz, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at);
      GRANT UPDATE ON bad.log TO app;
    `);
    try {
      const byName = Object.fromEntries((await checkConventions(t.db.pool)).map((r) => [r.name, r.problems]));
      expect(byName["tables have a primary key"]).toEqual(["bad.no_pk"]);
      expect(byName["foreign keys state ON DELETE"]).toEqual(["bad.child.child_parent_id_fkey"]);
      expect(byName["foreign keys are indexed"]).toEqual(["bad.child.child_parent_id_fkey"]);
      expect(byName["schemas and tables have a COMMENT"]?.sort()).toEqual(["bad", "bad.child", "bad.log", "bad.no_pk"]);
      expect(byName["timestamps carry a time zone"]).toEqual(["bad.no_pk.at"]);
      expect(byName["tenant-owned tables have RLS enabled and forced"]).toEqual(["bad.no_pk"]);
      expect(byName["partitioned (audit) tables are append-only for everyone"]).toEqual(["bad.log"]);
    } finally {
      await t.db.pool.query("DROP SCHEMA bad CASCADE");
    }
  });
});

describe("doctor", () => {
  it("reports a freshly migrated database healthy", async () => {
    const results = await doctor(t.db.pool);
    const { text, ok } = formatReport(results);
    expect(ok, text).toBe(true);
    expect(text).toContain("ok   migrations applied as written (checksums), none unknown, none pending");
  });

  it("flags rows in a DEFAULT partition and a missing month", async () => {
    await t.db.pool.query(
      "INSERT INTO wills.audit_logs (created_at, action, actor_type, resource_type) VALUES (now() + interval '10 years', 'test.far', 'system', 'test')",
    );
    // A DBA detaching next month's partition leaves a gap the doctor must see.
    const next = new Date();
    next.setUTCMonth(next.getUTCMonth() + 1, 1);
    const part = `wills.audit_logs_p${next.getUTCFullYear()}_${String(next.getUTCMonth() + 1).padStart(2, "0")}`;
    await t.db.pool.query(`ALTER TABLE wills.audit_logs DETACH PARTITION ${part}`);
    const { text, ok } = formatReport(await doctor(t.db.pool));
    expect(ok).toBe(false);
    expect(text).toContain("wills.audit_logs: 1 row(s) in audit_logs_default");
    expect(text).toContain(`wills.audit_logs: no partition for ${part.split("_p")[1]}`);
  });
});

describe("concurrent index builds", () => {
  it("make doctor reports an INVALID index (what a cancelled or failed CREATE INDEX CONCURRENTLY leaves)", async () => {
    await t.db.pool.query("CREATE TABLE public.doctor_probe (x int)");
    await t.db.pool.query("INSERT INTO public.doctor_probe VALUES (1), (1)");
    // A unique concurrent build over duplicates fails and leaves its index behind, INVALID.
    await expect(t.db.pool.query("CREATE UNIQUE INDEX CONCURRENTLY doctor_probe_x ON public.doctor_probe (x)")).rejects.toThrow();
    const { text, ok } = formatReport(await doctor(t.db.pool));
    expect(ok).toBe(false);
    expect(text).toContain("FAIL no INVALID indexes");
    expect(text).toContain("public.doctor_probe_x on doctor_probe");
    await t.db.pool.query("DROP TABLE public.doctor_probe");
    expect(formatReport(await doctor(t.db.pool)).text).toContain("ok   no INVALID indexes");
  });

  it("make lint refuses a non-transactional migration that sets a timeout around CONCURRENTLY, and one without noTransaction", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lint-migrations-"));
    const write = (name: string, body: string) => fs.writeFileSync(path.join(dir, name), body);
    write(
      "1_ok.ts",
      `export async function up(pgm) { pgm.noTransaction(); pgm.sql("SET lock_timeout = 0"); pgm.sql("CREATE INDEX CONCURRENTLY i ON t (x)"); }`,
    );
    write(
      "2_timeout.ts",
      `export async function up(pgm) { pgm.noTransaction(); pgm.sql("SET lock_timeout = '5s'"); pgm.sql("CREATE INDEX CONCURRENTLY i ON t (x)"); }`,
    );
    write("3_in_tx.ts", `export async function up(pgm) { pgm.sql("CREATE INDEX CONCURRENTLY i ON t (x)"); }`);
    write("4_plain.sql", "SET LOCAL lock_timeout = '5s'; CREATE INDEX i ON t (x);");
    const problems = lintConcurrentMigrations(dir);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^2_timeout\.ts: sets lock_timeout = 5s around CONCURRENTLY/);
    expect(problems[1]).toMatch(/^3_in_tx\.ts: uses CONCURRENTLY without pgm\.noTransaction\(\)/);
    expect(lintConcurrentMigrations()).toEqual([]); // the project's own migrations
    fs.rmSync(dir, { recursive: true });
  });
});
