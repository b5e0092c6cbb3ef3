/**
 * The COPY bulk path (src/db/copy.ts): binary encoding of every supported type, typed errors naming the
 * row, and nothing half-written. The embedded engine cannot COPY FROM STDIN over its socket: there the
 * table's fallback runs instead (checked here too), and a table without one gives an UnavailableError.
 */
import crypto from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { copyRows, copyTable, supportsCopyFromStdin } from "../../src/db/copy";
import { ConflictError, NotFoundError, UnavailableError, ValidationError } from "../../src/db/errors";
import { engineKind, useTestDb } from "../support/db";

const t = useTestDb();

interface Row {
  id: string;
  name: string | null;
  payload: Buffer;
  small: number;
  count: number;
  big: string;
  ratio: number;
  f4: number;
  flag: boolean;
  at: Date;
  doc: unknown;
  emb: string;
  parent: string | null;
}

const fallbackInsert = async (rows: readonly Row[], c: import("pg").ClientBase) => {
  // Tests may hold SQL of their own; services use generated queries.
  for (const r of rows) {
    await c.query(
      "INSERT INTO public.copy_demo (id, name, payload, small, count, big, ratio, f4, flag, at, doc, emb, parent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
      [
        r.id,
        r.name,
        r.payload,
        r.small,
        r.count,
        r.big,
        r.ratio,
        r.f4,
        r.flag,
        r.at,
        typeof r.doc === "string" ? r.doc : JSON.stringify(r.doc),
        r.emb,
        r.parent,
      ],
    );
  }
};

const columns = {
  id: { column: "id", type: "uuid" },
  name: { column: "name", type: "text" },
  payload: { column: "payload", type: "bytea" },
  small: { column: "small", type: "int2" },
  count: { column: "count", type: "int4" },
  big: { column: "big", type: "int8" },
  ratio: { column: "ratio", type: "float8" },
  f4: { column: "f4", type: "float4" },
  flag: { column: "flag", type: "bool" },
  at: { column: "at", type: "timestamptz" },
  doc: { column: "doc", type: "jsonb" },
  emb: { column: "emb", type: "vector" },
  parent: { column: "parent", type: "uuid" },
} as const;
const DEMO = copyTable<Row>("public.copy_demo", columns, { fallback: fallbackInsert, fallbackBatch: 100 });
const NO_FALLBACK = copyTable<Row>("public.copy_demo", columns);

const row = (i: number, over: Partial<Row> = {}): Row => ({
  id: crypto.randomUUID(),
  name: i % 5 ? `name ${i} ✓` : null,
  payload: crypto.randomBytes(i % 40),
  small: i % 30_000,
  count: i,
  big: String(9_000_000_000_000 + i),
  ratio: i / 3,
  f4: 0.5,
  flag: i % 2 === 0,
  at: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i % 1000)),
  doc: { i, tags: ["a", "b"] },
  emb: "[1,2.5,-3]",
  parent: null,
  ...over,
});

const count = async () => Number((await t.db.pool.query("SELECT count(*) AS n FROM public.copy_demo")).rows[0].n);

beforeAll(async () => {
  await t.db.pool.query(`
    CREATE TABLE public.copy_demo (
      id uuid PRIMARY KEY, name text, payload bytea NOT NULL, small smallint, count int CHECK (count >= 0), big bigint,
      ratio double precision, f4 real, flag boolean, at timestamptz, doc jsonb, emb vector(3),
      parent uuid REFERENCES public.copy_demo (id) DEFERRABLE INITIALLY IMMEDIATE)`);
});

describe("copyRows", () => {
  it(`uses COPY on the server and the fallback on the embedded engine (${engineKind})`, async () => {
    expect(await t.db.transaction((c) => supportsCopyFromStdin(c))).toBe(engineKind === "server");
  });

  it("round-trips every supported type, NULLs included", async () => {
    const rows = Array.from({ length: 250 }, (_, i) => row(i));
    expect(await t.db.transaction((c) => copyRows(c, DEMO, rows))).toBe(250);
    const { rows: back } = await t.db.pool.query("SELECT * FROM public.copy_demo WHERE id = ANY($1::uuid[]) ORDER BY count", [rows.map((r) => r.id)]);
    expect(back).toHaveLength(250);
    for (const [i, r] of rows.entries()) {
      const b = back[i];
      expect({ ...b, emb: String(b.emb) }).toEqual({ ...r, emb: "[1,2.5,-3]" });
    }
    await t.db.pool.query("TRUNCATE public.copy_demo");
  });

  it("a value of the wrong shape is a ValidationError naming the row and field; the connection stays usable", async () => {
    const rows = Array.from({ length: 5000 }, (_, i) => row(i, i === 3210 ? { id: "not-a-uuid" } : {}));
    const e = await t.db.transaction((c) => copyRows(c, DEMO, rows)).catch((x) => x);
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.fields).toEqual(["rows.3210.id"]);
    for (const [bad, field] of [
      [{ small: 40_000 }, "small"],
      [{ flag: "yes" as never }, "flag"],
      [{ at: new Date(NaN) }, "at"],
      [{ emb: "[1,x]" }, "emb"],
      [{ payload: "str" as never }, "payload"],
    ] as const) {
      const err = await t.db.transaction((c) => copyRows(c, DEMO, [row(1), row(2, bad as Partial<Row>)])).catch((x) => x);
      expect(err, field).toBeInstanceOf(ValidationError);
      expect(err.fields).toEqual([`rows.1.${field}`]);
    }
    expect(await count()).toBe(0);
    expect((await t.db.transaction((c) => c.query("SELECT 1 AS one"))).rows[0].one).toBe(1);
  });

  it("database errors come back typed, and nothing of the batch remains", async () => {
    const rows = Array.from({ length: 400 }, (_, i) => row(i));
    const dup = await t.db.transaction((c) => copyRows(c, DEMO, [...rows, rows[17] as Row])).catch((x) => x);
    expect(dup).toBeInstanceOf(ConflictError);
    expect(dup.constraint).toBe("copy_demo_pkey");
    const check = await t.db.transaction((c) => copyRows(c, DEMO, [row(1), row(2, { count: -1 })])).catch((x) => x);
    expect(check).toBeInstanceOf(ValidationError);
    expect(check.constraint).toBe("copy_demo_count_check");
    const notNull = await t.db.transaction((c) => copyRows(c, DEMO, [row(1, { payload: null as never })])).catch((x) => x);
    expect(notNull).toBeInstanceOf(ValidationError);
    const fk = await t.db.transaction((c) => copyRows(c, DEMO, [row(1, { parent: crypto.randomUUID() })])).catch((x) => x);
    expect(fk).toBeInstanceOf(NotFoundError);
    if (engineKind === "server") expect(dup.message).toMatch(/\(row 400\)$/);
    expect(await count()).toBe(0);
  });

  it("a failure after an earlier COPY in the same transaction undoes both", async () => {
    const e = await t.db
      .transaction(async (c) => {
        await copyRows(c, DEMO, [row(1), row(2)]);
        await copyRows(c, DEMO, [row(3, { count: -5 })]);
      })
      .catch((x) => x);
    expect(e).toBeInstanceOf(ValidationError);
    expect(await count()).toBe(0);
  });

  it.runIf(engineKind === "embedded")("without a fallback the embedded engine gives an UnavailableError, and its session survives", async () => {
    await expect(t.db.transaction((c) => copyRows(c, NO_FALLBACK, [row(1)]))).rejects.toBeInstanceOf(UnavailableError);
    expect((await t.db.pool.query("SELECT 2 AS two")).rows[0].two).toBe(2);
  });
});
