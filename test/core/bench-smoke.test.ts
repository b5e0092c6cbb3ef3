/**
 * Keeps `make bench` from rotting: every workload runs once in quick mode (a few iterations, small data)
 * against this file's database, and produces rows with numbers. No benchmark figure is asserted here —
 * only that the harness works and the contenders agree on the engine. The full run is `make bench`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BenchContext, contextFor } from "../../bench/context";
import { formatTable, type ResultRow } from "../../bench/harness";
import { runWorkloads, WORKLOADS } from "../../bench/run";
import { useTestDb } from "../support/db";

const t = useTestDb();
let b: BenchContext;

beforeAll(async () => {
  // The test database outlives the bench context: give the context an engine it cannot stop.
  b = await contextFor({ ...t.engine, async stop() {} }, { quick: true, poolSize: 4 });
});
afterAll(async () => {
  await b?.plain.end();
  await b?.dbUnnamed.pool.end();
  await b?.db.pool.end();
});

describe("make bench (quick smoke run)", () => {
  it("runs every workload and reports numbers for each contender", { timeout: 60_000 }, async () => {
    const { rows, failures } = await runWorkloads(b, Object.keys(WORKLOADS));
    expect(failures).toEqual([]);
    const measured = (w: string) => rows.filter((r: ResultRow) => r.workload.startsWith(w) && (r.p50Ms ?? r.throughput?.value) !== undefined);
    for (const w of ["1", "2", "3", "4", "5", "6"]) expect(measured(w).length, `workload ${w}`).toBeGreaterThan(0);
    expect(rows.find((r) => r.workload.startsWith("7"))?.contender).toBe("skipped");
    expect(rows.filter((r) => r.errors).map((r) => `${r.contender}: ${r.errors}`)).toEqual([]);
    // Every timed contender produced a finite median.
    for (const r of rows.filter((x) => x.p50Ms !== undefined)) expect(Number.isFinite(r.p50Ms), r.contender).toBe(true);
    expect(formatTable(rows)).toContain("ours: pgtyped query via layer pool (named)");
  });
});
