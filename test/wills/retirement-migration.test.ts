/**
 * Migration 20261130030000000_wills_clause_retirement on a library that already holds clauses: a code whose
 * current version was switched off by hand (possible before it) comes out retired, a live one untouched; and
 * Down then Up keeps a retirement, its time restored from the clause.retired audit row.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/db/engine";
import { migrate } from "../../src/tools/migrate";
import { createTestEngine } from "../support/db";

const MIGRATION = "20261130030000000_wills_clause_retirement";

describe(`${MIGRATION} on existing data`, () => {
  let engine: Engine;
  let pool: pg.Pool;

  beforeAll(async () => {
    engine = await createTestEngine({ empty: true });
    pool = new pg.Pool({ connectionString: engine.url, max: 2 });
    const all = await migrate(engine.url, { direction: "up" });
    const position = all.indexOf(MIGRATION);
    expect(position).toBeGreaterThan(0);
    await migrate(engine.url, { direction: "down", count: all.length - position });
  }, 120_000);
  afterAll(async () => {
    await pool?.end();
    await engine?.stop();
  });

  const insert = (code: string, version: number, current: boolean, previous: string | null = null) =>
    pool
      .query(
        `INSERT INTO wills.clauses (code, version, previous_version_id, is_current, title, body, category, will_types)
         VALUES ($1, $2::int, $3, $4, 't', 'v' || $2, 'general', '["single"]') RETURNING id`,
        [code, version, previous, current],
      )
      .then((r) => r.rows[0].id as string);
  const state = async () =>
    (await pool.query("SELECT code, version, is_current, retired_at FROM wills.clauses ORDER BY code, version")).rows.map((r) => [
      r.code,
      r.version,
      r.is_current,
      r.retired_at === null ? null : (r.retired_at as Date).toISOString(),
    ]);

  it("Up retires a code left with no current version at its last version; a live code is untouched", async () => {
    await insert("live", 1, true);
    const ended1 = await insert("ended_by_hand", 1, false);
    await insert("ended_by_hand", 2, false, ended1);

    expect(await migrate(engine.url, { direction: "up", count: 1 })).toEqual([MIGRATION]);
    const rows = await state();
    expect(rows.map(([code, version, current, retired]) => [code, version, current, retired !== null])).toEqual([
      ["ended_by_hand", 1, false, false],
      ["ended_by_hand", 2, false, true],
      ["live", 1, true, false],
    ]);
  });

  it("Down then Up keeps a retirement: retired_at comes back from the clause.retired audit row", async () => {
    // Retire `live` as retireClause does: the function, and the audit row in the same transaction (same now()).
    const c = await pool.connect();
    try {
      await c.query("BEGIN");
      const { rows } = await c.query("SELECT id FROM wills.retire_clause('live', 1)");
      await c.query(
        "INSERT INTO wills.audit_logs (action, actor_type, resource_type, resource_id, details) VALUES ('clause.retired', 'staff', 'clause', $1, '{}')",
        [rows[0].id],
      );
      await c.query("COMMIT");
    } finally {
      c.release();
    }
    const retired = await state();

    expect(await migrate(engine.url, { direction: "down", count: 1 })).toEqual([MIGRATION]);
    const down = (await pool.query("SELECT code, version, is_current FROM wills.clauses ORDER BY code, version")).rows;
    expect(down.filter((r) => r.is_current)).toEqual([]);

    expect(await migrate(engine.url, { direction: "up", count: 1 })).toEqual([MIGRATION]);
    const again = await state();
    expect(again.find(([code]) => code === "live")).toEqual(retired.find(([code]) => code === "live"));
    expect(again.map(([code, version, current, at]) => [code, version, current, at !== null])).toEqual(
      retired.map(([code, version, current, at]) => [code, version, current, at !== null]),
    );
  });
});
