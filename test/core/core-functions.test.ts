import { describe, expect, it } from "vitest";
import { AppendOnlyError, ValidationError } from "../../src/db/errors";
import { useTestDb } from "../support/db";

const t = useTestDb();
const q = async <R extends Record<string, unknown>>(sql: string, params: unknown[] = []) => (await t.db.pool.query<R>(sql, params)).rows;
/** Run SQL through the service-layer transaction helper, so failures arrive as typed errors. */
const tx = (sql: string, params: unknown[] = []) => t.db.transaction((c) => c.query(sql, params));

describe("core.uuidv7()", () => {
  it("produces RFC 9562 version-7, variant-10 UUIDs carrying the current time", async () => {
    const before = Date.now();
    const rows = await q<{ id: string; at: Date }>("SELECT id, core.uuidv7_time(id) AS at FROM (SELECT core.uuidv7() AS id FROM generate_series(1, 200)) s");
    const after = Date.now();
    expect(new Set(rows.map((r) => r.id)).size).toBe(200);
    for (const { id, at } of rows) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(at.getTime()).toBeGreaterThanOrEqual(before - 5);
      expect(at.getTime()).toBeLessThanOrEqual(after + 5);
    }
  });

  it("is time-ordered: later calls sort after earlier ones", async () => {
    const batches: string[][] = [];
    for (let i = 0; i < 10; i++) {
      batches.push((await q<{ id: string }>("SELECT core.uuidv7()::text AS id FROM generate_series(1, 50)")).map((r) => r.id));
      await new Promise((r) => setTimeout(r, 2));
    }
    // Across calls 2 ms apart, every id of a later batch sorts after every id of an earlier one.
    for (let i = 1; i < batches.length; i++) {
      const prevMax = [...(batches[i - 1] as string[])].sort().at(-1) as string;
      const curMin = [...(batches[i] as string[])].sort()[0] as string;
      expect(curMin > prevMax).toBe(true);
    }
    // Within a statement the 60-bit time prefix never goes backwards (microsecond clock).
    for (const b of batches) {
      const prefixes = b.map((id) => id.replace(/-/g, "").slice(0, 16));
      expect(prefixes).toEqual([...prefixes].sort());
    }
  });

  it("works as a column default", async () => {
    await q("CREATE TABLE public.uuid_default_demo (id uuid PRIMARY KEY DEFAULT core.uuidv7(), n int)");
    const rows = await q<{ id: string }>("INSERT INTO public.uuid_default_demo (n) SELECT g FROM generate_series(1, 3) g RETURNING id");
    expect(rows).toHaveLength(3);
    for (const r of rows) expect(r.id[14]).toBe("7");
  });
});

describe("core.touch_updated_at()", () => {
  it("sets updated_at on every UPDATE, overriding a value the caller supplied", async () => {
    await q(`CREATE TABLE public.touch_demo (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL DEFAULT now());
             CREATE TRIGGER touch BEFORE UPDATE ON public.touch_demo FOR EACH ROW EXECUTE FUNCTION core.touch_updated_at();`);
    await q("INSERT INTO public.touch_demo VALUES (1, 'a', '2000-01-01')");
    const before = Date.now();
    await tx("UPDATE public.touch_demo SET v = 'b', updated_at = '1999-01-01' WHERE id = 1");
    const [row] = await q<{ updated_at: Date; v: string }>("SELECT v, updated_at FROM public.touch_demo");
    expect(row?.v).toBe("b");
    expect(row?.updated_at.getTime()).toBeGreaterThanOrEqual(before - 1000);
  });
});

describe("append-only guard and monthly partitions", () => {
  const setup = async (name: string) => {
    await q(`CREATE TABLE public.${name} (id uuid NOT NULL DEFAULT core.uuidv7(), created_at timestamptz NOT NULL DEFAULT now(), note text,
               PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)`);
    await q(`SELECT core.make_append_only('public.${name}')`);
    return q<{ partition_name: string; range_start: Date | null; range_end: Date | null; created: boolean }>(
      "SELECT * FROM core.ensure_monthly_partitions($1::regclass, 3)",
      [`public.${name}`],
    );
  };

  it("creates the current UTC month and 3 ahead plus DEFAULT, idempotently", async () => {
    const first = await setup("part_demo");
    const now = new Date();
    const months = [0, 1, 2, 3].map((i) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1)));
    const name = (d: Date) => `part_demo_p${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
    expect(first.map((p) => p.partition_name)).toEqual([...months.map(name), "part_demo_default"]);
    expect(first.every((p) => p.created)).toBe(true);
    for (const [i, p] of first.slice(0, 4).entries()) {
      expect(p.range_start?.toISOString()).toBe(months[i]?.toISOString());
      expect(p.range_end?.toISOString()).toBe(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i + 1, 1)).toISOString());
    }
    const again = await q<{ created: boolean }>("SELECT * FROM core.ensure_monthly_partitions('public.part_demo'::regclass, 3)");
    expect(again).toHaveLength(5);
    expect(again.every((p) => !p.created)).toBe(true);
    const [{ n }] = (await q<{ n: string }>("SELECT count(*) AS n FROM pg_inherits WHERE inhparent = 'public.part_demo'::regclass")) as [{ n: string }];
    expect(Number(n)).toBe(5);
  });

  it("routes rows to their month and sends out-of-range rows (10 years ahead) to DEFAULT", async () => {
    await q("INSERT INTO public.part_demo (note, created_at) VALUES ('now', now()), ('far', now() + interval '10 years')");
    const rows = await q<{ note: string; part: string }>("SELECT note, tableoid::regclass::text AS part FROM public.part_demo ORDER BY note");
    const d = new Date();
    expect(rows).toEqual([
      { note: "far", part: "part_demo_default" },
      { note: "now", part: `part_demo_p${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, "0")}` },
    ]);
    const report = await q<{ partition_name: string; row_count: string; is_default: boolean }>(
      "SELECT * FROM core.partition_report() WHERE parent = 'part_demo'",
    );
    expect(report.find((r) => r.is_default)?.row_count).toBe("1");
  });

  it.each([
    ["UPDATE", "UPDATE public.part_demo SET note = 'x'"],
    ["DELETE", "DELETE FROM public.part_demo"],
    ["TRUNCATE", "TRUNCATE public.part_demo"],
  ])("rejects %s on the parent, for the owner too, with AppendOnlyError", async (op, sql) => {
    const err = await tx(sql).catch((e) => e);
    expect(err).toBeInstanceOf(AppendOnlyError);
    expect(err.sqlstate).toBe("AO001");
    expect(err.message).toContain(`${op} on public.part_demo`);
    const [{ n }] = (await q<{ n: string }>("SELECT count(*) AS n FROM public.part_demo WHERE note IN ('now', 'far')")) as [{ n: string }];
    expect(n).toBe("2");
  });

  it("rejects UPDATE, DELETE and TRUNCATE on a partition addressed directly, DEFAULT included", async () => {
    const parts = (await q<{ relid: string }>("SELECT relid::text FROM pg_partition_tree('public.part_demo') WHERE isleaf")).map((r) => r.relid);
    expect(parts).toHaveLength(5);
    for (const p of parts) {
      for (const sql of [`UPDATE ${p} SET note = 'x'`, `DELETE FROM ${p}`, `TRUNCATE ${p}`]) {
        const err = await tx(sql).catch((e) => e);
        if (sql.startsWith("TRUNCATE") || (await q(`SELECT 1 FROM ${p}`)).length > 0) {
          expect(err, `${sql} must be rejected`).toBeInstanceOf(AppendOnlyError);
        }
      }
    }
    const [{ n }] = (await q<{ n: string }>("SELECT count(*) AS n FROM public.part_demo")) as [{ n: string }];
    expect(n).toBe("2");
  });

  it("guards partitions created later too", async () => {
    const more = await q<{ partition_name: string; created: boolean }>("SELECT * FROM core.ensure_monthly_partitions('public.part_demo'::regclass, 6)");
    const fresh = more.filter((p) => p.created);
    expect(fresh).toHaveLength(3);
    for (const p of fresh) {
      await expect(tx(`TRUNCATE public.${p.partition_name}`)).rejects.toBeInstanceOf(AppendOnlyError);
    }
  });

  it("refuses to partition what it cannot, with a typed error", async () => {
    await q("CREATE TABLE public.plain_demo (id int)");
    await expect(tx("SELECT * FROM core.ensure_monthly_partitions('public.plain_demo'::regclass, 3)")).rejects.toBeInstanceOf(ValidationError);
    await expect(tx("SELECT * FROM core.ensure_monthly_partitions('public.part_demo'::regclass, -1)")).rejects.toBeInstanceOf(ValidationError);
  });

  it("explains a DEFAULT partition that blocks a new month", async () => {
    await setup("block_demo");
    await q("INSERT INTO public.block_demo (created_at) VALUES (date_trunc('month', now()) + interval '5 months' + interval '3 days')");
    const err = await tx("SELECT * FROM core.ensure_monthly_partitions('public.block_demo'::regclass, 6)").catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain("DEFAULT partition already holds rows");
  });
});
