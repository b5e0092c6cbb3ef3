/**
 * Catalog conventions, checked against the fully migrated schema (see README "Conventions"). Each query
 * lists violations; the test shows them by name so the fix is obvious.
 */
import { describe, expect, it } from "vitest";
import { useTestDb } from "../support/db";

const t = useTestDb();
const OURS = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'public') AND n.nspname NOT LIKE 'pg\\_%'";
const violations = async (sql: string) => (await t.db.pool.query<{ v: string }>(sql)).rows.map((r) => r.v);

describe("schema conventions", () => {
  it("every table has a primary key", async () => {
    expect(
      await violations(`SELECT c.oid::regclass::text AS v FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE ${OURS} AND c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')`),
    ).toEqual([]);
  });

  it("every foreign key states ON DELETE (CASCADE, SET NULL, SET DEFAULT or RESTRICT, not the implicit NO ACTION)", async () => {
    expect(
      await violations(`SELECT k.conrelid::regclass::text || '.' || k.conname AS v FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
         WHERE ${OURS} AND k.contype = 'f' AND k.confdeltype = 'a' AND k.conparentid = 0`),
    ).toEqual([]);
  });

  it("every foreign key has an index whose leading columns are its referencing columns", async () => {
    expect(
      await violations(`SELECT k.conrelid::regclass::text || '.' || k.conname AS v FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
         WHERE ${OURS} AND k.contype = 'f' AND k.conparentid = 0
           AND NOT EXISTS (
             SELECT FROM pg_index i WHERE i.indrelid = k.conrelid
                AND (SELECT array_agg(x ORDER BY x) FROM unnest((i.indkey::int2[])[0:cardinality(k.conkey) - 1]) x)
                  = (SELECT array_agg(x ORDER BY x) FROM unnest(k.conkey) x))`),
    ).toEqual([]);
  });

  it("every schema, table and partitioned table has a COMMENT", async () => {
    expect(
      await violations(`SELECT n.nspname AS v FROM pg_namespace n WHERE ${OURS} AND obj_description(n.oid, 'pg_namespace') IS NULL
         UNION ALL
         SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE ${OURS} AND c.relkind IN ('r', 'p') AND obj_description(c.oid, 'pg_class') IS NULL`),
    ).toEqual([]);
  });

  it("no timestamp without time zone", async () => {
    expect(
      await violations(`SELECT c.oid::regclass::text || '.' || a.attname AS v FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE ${OURS} AND c.relkind IN ('r', 'p', 'v') AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid = 'timestamp'::regtype`),
    ).toEqual([]);
  });

  it("tenant-owned tables (a tenant_id/customer_id/organization_id column that is not their key) have RLS enabled and forced", async () => {
    const tenantOwned = await violations(`SELECT DISTINCT c.oid::regclass::text AS v FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname IN ('tenant_id', 'customer_id', 'organization_id')
         WHERE ${OURS} AND c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p' AND k.conkey = ARRAY[a.attnum])`);
    expect(tenantOwned.length).toBeGreaterThan(0); // the check has something to check
    expect(
      await violations(`SELECT c.oid::regclass::text AS v FROM pg_class c
         WHERE c.oid::regclass::text = ANY ('{${tenantOwned.join(",")}}'::text[]) AND NOT (c.relrowsecurity AND c.relforcerowsecurity)`),
    ).toEqual([]);
  });

  it("audit tables are append-only: guarded and without UPDATE/DELETE/TRUNCATE for the app role", async () => {
    const partitioned = await violations(`SELECT c.oid::regclass::text AS v FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${OURS} AND NOT c.relispartition`);
    expect(partitioned.sort()).toEqual(["screening.audit_events", "wills.audit_logs"]);
    for (const table of partitioned) {
      const { rows } = await t.db.pool.query(
        `SELECT (SELECT count(*) FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname IN ('append_only_row', 'append_only_truncate'))::int AS guards,
                has_table_privilege('app', $1, 'UPDATE') OR has_table_privilege('app', $1, 'DELETE') OR has_table_privilege('app', $1, 'TRUNCATE') AS app_can_mutate`,
        [table],
      );
      expect(rows[0], table).toEqual({ guards: 2, app_can_mutate: false });
    }
  });
});
