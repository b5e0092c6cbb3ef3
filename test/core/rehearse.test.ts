/**
 * Issue 17, item 3: `make rehearse` applies pending migrations to a seeded copy while a read/write load runs
 * against the tables they name, and reports locks, waits, rows and rewrites. Three migrations a reviewer
 * meets: a plain CREATE INDEX (blocks writes while it builds), ADD COLUMN with a volatile default (rewrites
 * the table under ACCESS EXCLUSIVE), and CREATE INDEX CONCURRENTLY in a TS migration (blocks nothing). A
 * fourth holds its lock past a small budget and fails the rehearsal. The load needs real sessions (server);
 * on the embedded engine the same migrations are reported without waits.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/db/engine";
import { MIGRATIONS_DIR, migrationFiles } from "../../src/tools/migrate";
import { formatRehearsal, lockTimeoutOf, type MigrationRehearsal, rehearse } from "../../src/tools/rehearse";
import { createTestEngine, engineKind } from "../support/db";

const sqlMigration = (up: string, down: string) =>
  `-- Migration: rehearsal test\n\n-- Up Migration\nSET LOCAL lock_timeout = '5s';\n${up}\n\n-- Down Migration\n${down}\n`;

const EXTRA: Record<string, string> = {
  "99990101000000000_plain_index.sql": sqlMigration("CREATE INDEX rehearse_plain ON screening.entities (updated_at);", "DROP INDEX screening.rehearse_plain;"),
  "99990102000000000_volatile_default.sql": sqlMigration(
    "ALTER TABLE screening.entities ADD COLUMN rehearse_token double precision NOT NULL DEFAULT random();",
    "ALTER TABLE screening.entities DROP COLUMN rehearse_token;",
  ),
  "99990103000000000_concurrent_index.ts": `// rehearsal test: a concurrent build outside a transaction
export const up = (pgm: { noTransaction(): void; sql(s: string): void }) => {
  pgm.noTransaction();
  pgm.sql("SET lock_timeout = 0");
  pgm.sql("CREATE INDEX CONCURRENTLY rehearse_concurrent ON screening.entities (created_at)");
};
export const down = (pgm: { noTransaction(): void; sql(s: string): void }) => {
  pgm.noTransaction();
  pgm.sql("DROP INDEX CONCURRENTLY screening.rehearse_concurrent");
};
`,
  "99990104000000000_holds_lock.sql": sqlMigration(
    "CREATE INDEX rehearse_slow ON screening.entities (entity_type);\nSELECT pg_sleep(0.6);",
    "DROP INDEX screening.rehearse_slow;",
  ),
};

describe(`make rehearse (${engineKind} engine)`, () => {
  let engine: Engine;
  let dir: string;
  let reports: MigrationRehearsal[];
  const concurrent = engineKind === "server";
  const byName = (n: string) => reports.find((r) => r.name === n) as MigrationRehearsal;

  beforeAll(async () => {
    engine = await createTestEngine();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgf-rehearse-"));
    for (const f of fs.readdirSync(MIGRATIONS_DIR)) fs.copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(dir, f));
    for (const [f, text] of Object.entries(EXTRA)) fs.writeFileSync(path.join(dir, f), text);
    const baseCount = migrationFiles(dir).length - Object.keys(EXTRA).length;
    // The last migration's budget is 200 ms (its lock_timeout is 5 s): budgetMs applies to all, so the
    // others get a generous one and only the one holding its lock 600 ms can exceed it.
    reports = await rehearse({ url: engine.url, baseCount, dir, scale: 0.05, concurrent, budgetMs: 200 });
  }, 240_000);
  afterAll(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    await engine?.stop();
  });

  it("reports each pending migration, in order, with its duration", () => {
    expect(reports.map((r) => r.name)).toEqual(Object.keys(EXTRA).map((f) => f.replace(/\.(sql|ts)$/, "")));
    for (const r of reports) expect(r.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("a plain CREATE INDEX: SHARE lock on the table, reported as blocking writes, no rewrite", () => {
    const r = byName("99990101000000000_plain_index");
    expect(r.locks).toContainEqual({ table: "screening.entities", mode: "ShareLock", blocks: "writes" });
    expect(r.rewritten).toEqual([]);
    expect(formatRehearsal([r], concurrent).text).toContain("lock ShareLock on screening.entities: blocks writes until the migration commits");
  });

  it("ADD COLUMN with a volatile default: ACCESS EXCLUSIVE, and the table is rewritten (rows counted)", () => {
    const r = byName("99990102000000000_volatile_default");
    expect(r.locks).toContainEqual({ table: "screening.entities", mode: "AccessExclusiveLock", blocks: "reads and writes" });
    expect(r.rewritten.map((w) => w.table)).toContain("screening.entities");
    expect(r.rewritten.find((w) => w.table === "screening.entities")?.rows).toBeGreaterThan(0);
    expect(formatRehearsal([r], concurrent).text).toMatch(/REWROTE screening\.entities \(\d+ rows\)/);
  });

  it("CREATE INDEX CONCURRENTLY in a TS migration blocks nothing and rewrites nothing", () => {
    const r = byName("99990103000000000_concurrent_index");
    expect(r.locks.filter((l) => l.blocks !== "nothing")).toEqual([]);
    expect(r.rewritten).toEqual([]);
    expect(r.overBudget).toBe(false);
    // The poller sees the concurrent build's lock on a server; a single session cannot watch itself build.
    if (concurrent) expect(r.locks).toContainEqual({ table: "screening.entities", mode: "ShareUpdateExclusiveLock", blocks: "nothing" });
  });

  it.runIf(concurrent)("the load ran against the named table, and a lock held past the budget fails the rehearsal", () => {
    const slow = byName("99990104000000000_holds_lock");
    expect(slow.loadTables).toEqual(["screening.entities"]);
    expect(slow.longestWaitMs).toBeGreaterThan(200);
    expect(slow.overBudget).toBe(true);
    expect(byName("99990103000000000_concurrent_index").longestWaitMs).toBeLessThan(200);
    const { text, ok } = formatRehearsal(reports, concurrent);
    expect(ok).toBe(false);
    expect(text).toMatch(/FAIL 99990104000000000_holds_lock: .*\n(.*\n)*.*longest wait caused \d+ ms .*budget 200 ms: OVER BUDGET/);
  });

  it.runIf(!concurrent)("the embedded engine: no load, no waits, said in the report", () => {
    for (const r of reports) expect(r.longestWaitMs).toBeNull();
    expect(formatRehearsal(reports, concurrent).text).toContain("embedded engine: one session, so no concurrent load");
  });

  it("a migration's budget is its own lock_timeout", () => {
    expect(lockTimeoutOf("SET LOCAL lock_timeout = '5s';")).toBe(5000);
    expect(lockTimeoutOf("SET lock_timeout TO '250ms'")).toBe(250);
    expect(lockTimeoutOf("SET LOCAL lock_timeout = '2min';")).toBe(120_000);
    expect(lockTimeoutOf('pgm.sql("SET lock_timeout = 0")')).toBe(5000);
  });
});
