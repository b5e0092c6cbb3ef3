import { beforeAll, describe, expect, it } from "vitest";
import { ensureAllPartitions, ensurePartitions, reportPartitions } from "../../src/core/partitions";
import { ValidationError } from "../../src/db/errors";
import { platformContext } from "../../src/db/operation";
import { useTestDb } from "../support/db";

const t = useTestDb();
const P = platformContext();

beforeAll(async () => {
  await t.db.pool.query(`
    CREATE SCHEMA demo;
    CREATE TABLE demo.events (id uuid NOT NULL DEFAULT core.uuidv7(), created_at timestamptz NOT NULL, PRIMARY KEY (id, created_at))
      PARTITION BY RANGE (created_at);
    CREATE TABLE demo.other (id uuid NOT NULL DEFAULT core.uuidv7(), at timestamptz NOT NULL, PRIMARY KEY (id, at))
      PARTITION BY RANGE (at);
  `);
});

describe("partition service (generated queries over core functions)", () => {
  it("ensureAllPartitions provisions every monthly partitioned table, then is a no-op", async () => {
    const first = (await ensureAllPartitions(t.db, P, { monthsAhead: 2 })).filter((p) => p.parent.startsWith("demo."));
    expect(first.filter((p) => p.parent === "demo.events")).toHaveLength(4); // this month, 2 ahead, DEFAULT
    expect(first.filter((p) => p.parent === "demo.other")).toHaveLength(4);
    expect(first.every((p) => p.created)).toBe(true);
    const second = (await ensureAllPartitions(t.db, P, { monthsAhead: 2 })).filter((p) => p.parent.startsWith("demo."));
    expect(second.some((p) => p.created)).toBe(false);
  });

  it("ensurePartitions extends one table", async () => {
    const r = await ensurePartitions(t.db, P, { parent: "demo.events", monthsAhead: 4 });
    expect(r.filter((p) => p.created).map((p) => p.partition_name)).toHaveLength(2);
  });

  it("rejects bad input before any SQL runs", async () => {
    await expect(ensureAllPartitions(t.db, P, { monthsAhead: -1 })).rejects.toBeInstanceOf(ValidationError);
    await expect(ensurePartitions(t.db, P, { parent: "demo.events; DROP TABLE x", monthsAhead: 1 })).rejects.toBeInstanceOf(ValidationError);
  });

  it("reportPartitions flags rows that landed in a DEFAULT partition", async () => {
    expect((await reportPartitions(t.db, P)).nonEmptyDefaults).toEqual([]);
    await t.db.pool.query("INSERT INTO demo.other (at) VALUES (now() + interval '10 years'), (now() - interval '10 years')");
    const report = await reportPartitions(t.db, P);
    expect(report.nonEmptyDefaults).toEqual([{ parent: "demo.other", partition_name: "other_default", bound: "DEFAULT", is_default: true, row_count: "2" }]);
    expect(report.partitions.filter((p) => p.parent === "demo.events")).toHaveLength(6);
  });
});
