/**
 * Drift detection (src/tools/drift.ts) on the engine of this run. One replay for the whole file: the first
 * test proves a fresh copy of the migrated database matches a replay of its migrations, so that copy's own
 * snapshot serves as "what the migrations produce" for the rest. Each hand change then runs inside a
 * transaction that is rolled back (BEGIN; change; snapshot; ROLLBACK), so every case starts clean.
 */
import fs from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/db/engine";
import { EXIT_CANNOT_CHECK, EXIT_DRIFT, EXIT_NO_DRIFT, type Snapshot, checkDrift, diffSnapshots, drift, formatDrift, snapshot } from "../../src/tools/drift";
import { MIGRATIONS_DIR } from "../../src/tools/migrate";
import { createTestEngine, engineKind } from "../support/db";

let engine: Engine;
let client: pg.Client;
let expected: Snapshot;

beforeAll(async () => {
  engine = await createTestEngine();
  client = new pg.Client({ connectionString: engine.url });
  await client.connect();
  expected = await snapshot(client);
});
afterAll(async () => {
  await client?.end();
  await engine?.stop();
});

/** The differences a hand change makes, rolled back afterwards. */
async function driftAfter(sql: string): Promise<string[]> {
  await client.query("BEGIN");
  try {
    await client.query(sql);
    return diffSnapshots(expected, await snapshot(client));
  } finally {
    await client.query("ROLLBACK");
  }
}

describe("drift", () => {
  it("reports nothing for a freshly migrated database, replayed on the same engine kind", async () => {
    const r = await drift(engine.url);
    expect(r.differences).toEqual([]);
    const files = fs
      .readdirSync(MIGRATIONS_DIR)
      .filter((f) => /\.(sql|ts|js)$/.test(f))
      .map((f) => f.replace(/\.(sql|ts|js)$/, ""));
    expect([...r.applied].sort()).toEqual(files.sort());
    expect(r.replayedOn).toMatch(engineKind === "server" ? /^a scratch database on the same server \(PostgreSQL 1\d/ : /^a throwaway in-memory PGlite/);
    expect(formatDrift(r)).toEqual({ text: expect.stringContaining("no drift"), code: EXIT_NO_DRIFT });
    // The snapshot is not trivially empty: the later cases compare against it.
    expect(expected.size).toBeGreaterThan(500);
  });

  it("reports an extra index and a dropped one, by name", async () => {
    expect(await driftAfter("CREATE INDEX tasks_title_idx ON workspace.tasks (title)")).toEqual([
      "extra index workspace.tasks_title_idx on workspace.tasks: CREATE INDEX tasks_title_idx ON workspace.tasks USING btree (title), validity valid (not created by any migration: drop it or write a migration for it)",
    ]);
    expect(await driftAfter("DROP INDEX workspace.idx_tasks_status")).toEqual([
      expect.stringMatching(
        /^missing index workspace\.idx_tasks_status on workspace\.tasks: CREATE INDEX idx_tasks_status ON workspace\.tasks USING btree \(status\)/,
      ),
    ]);
  });

  it("reports a dropped table as one line that counts what went with it", async () => {
    expect(await driftAfter("DROP TABLE screening.cached_data_sources CASCADE")).toEqual([
      expect.stringMatching(
        /^missing table screening\.cached_data_sources: table, row level security enabled and forced \(with \d+ columns, .*\d+ indexes, .*policies/,
      ),
    ]);
  });

  it("reports a changed column type and default", async () => {
    const type = await driftAfter("ALTER TABLE workspace.tasks ALTER COLUMN title TYPE varchar(200)");
    expect(type).toContainEqual(expect.stringMatching(/^column workspace\.tasks\.title: type changed from text to character varying\(200\) /));
    expect(await driftAfter("ALTER TABLE workspace.tasks ALTER COLUMN created_at SET DEFAULT clock_timestamp()")).toEqual([
      expect.stringMatching(/^column workspace\.tasks\.created_at: default changed from now\(\) to clock_timestamp\(\) /),
    ]);
  });

  it("reports a dropped policy and a changed one", async () => {
    expect(await driftAfter("DROP POLICY organization_rows ON workspace.tasks")).toEqual([
      expect.stringMatching(/^missing policy organization_rows on workspace\.tasks: /),
    ]);
    expect(await driftAfter("ALTER POLICY organization_rows ON workspace.tasks USING (true)")).toEqual([
      expect.stringMatching(/^policy organization_rows on workspace\.tasks: USING changed from \(.+\) to true /),
    ]);
  });

  it("reports a function whose body was replaced by hand", async () => {
    const d = await driftAfter(`CREATE OR REPLACE FUNCTION core.touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.updated_at := clock_timestamp();
        RETURN NEW;
      END
    $$`);
    expect(d).toEqual([
      expect.stringMatching(
        /^function core\.touch_updated_at\(\): body changed \(first difference at line \d+: was ".*now\(\).*", now ".*clock_timestamp\(\).*"\)/,
      ),
    ]);
  });

  it("reports an added trigger once, not once per partition it is cloned to", async () => {
    expect(await driftAfter("CREATE TRIGGER audit_copy AFTER INSERT ON wills.audit_logs FOR EACH ROW EXECUTE FUNCTION core.touch_updated_at()")).toEqual([
      expect.stringMatching(/^extra trigger audit_copy on wills\.audit_logs: CREATE TRIGGER audit_copy AFTER INSERT ON wills\.audit_logs FOR EACH ROW/),
    ]);
  });

  it("reports privileges given to app and privileges taken from it", async () => {
    expect(
      await driftAfter(
        "GRANT UPDATE ON wills.audit_logs TO app; GRANT UPDATE (title) ON workspace.tasks TO app; GRANT EXECUTE ON FUNCTION core.partition_report() TO app",
      ),
    ).toEqual([
      expect.stringMatching(/^grant: app has EXECUTE on function core\.partition_report\(\) that the migrations do not give/),
      expect.stringMatching(/^grant: app has UPDATE on column workspace\.tasks \(title\) that the migrations do not give/),
      expect.stringMatching(/^grant: app has UPDATE on table wills\.audit_logs that the migrations do not give/),
    ]);
    expect(await driftAfter("REVOKE SELECT ON workspace.tasks FROM app")).toEqual([
      expect.stringMatching(/^grant: app lacks SELECT on table workspace\.tasks that the migrations give/),
    ]);
  });

  it("does not count monthly partitions made later, but does count other partitions", async () => {
    await client.query("BEGIN");
    try {
      const made = await client.query<{ partition_name: string }>("SELECT partition_name FROM core.ensure_all_monthly_partitions(6) WHERE created");
      expect(made.rows.length).toBeGreaterThan(0); // months 4..6 ahead did not exist yet
      expect(diffSnapshots(expected, await snapshot(client))).toEqual([]);
      await client.query("CREATE TABLE wills.audit_logs_archive PARTITION OF wills.audit_logs FOR VALUES FROM ('2000-01-01') TO ('2001-01-01')");
      expect(diffSnapshots(expected, await snapshot(client))).toEqual([
        expect.stringMatching(
          /^extra table wills\.audit_logs_archive: table, row level security disabled, partition of wills\.audit_logs FOR VALUES FROM \('2000-01-01/,
        ),
      ]);
    } finally {
      await client.query("ROLLBACK");
    }
  });

  it("reports an applied migration missing from migrations/ instead of replaying", async () => {
    await client.query("INSERT INTO public.pgmigrations (name, run_on) VALUES ('20990101000000000_hotfix_from_elsewhere', now())");
    try {
      const r = await drift(engine.url);
      expect(r.differences).toEqual([
        expect.stringMatching(/^migration history: 20990101000000000_hotfix_from_elsewhere is recorded as applied but is not in migrations\//),
      ]);
      expect(r.replayedOn).toMatch(/^nothing replayed/);
      expect(formatDrift(r).code).toBe(EXIT_DRIFT);
    } finally {
      await client.query("DELETE FROM public.pgmigrations WHERE name = '20990101000000000_hotfix_from_elsewhere'");
    }
  });

  it("says so when no migration is applied, and exits 2 when it cannot check", async () => {
    const empty = await createTestEngine({ empty: true });
    try {
      const r = await drift(empty.url);
      expect(r).toEqual({ differences: [], applied: [], replayedOn: "nothing replayed: no migration is applied" });
    } finally {
      await empty.stop();
    }
    const unreachable = await checkDrift("postgres://postgres@127.0.0.1:1/nowhere");
    expect(unreachable.code).toBe(EXIT_CANNOT_CHECK);
    expect(unreachable.text).toMatch(/^could not check for drift: /);
  });
});
