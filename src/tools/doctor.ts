/**
 * Health checks of a live database, shared by `make doctor` and the catalog conventions test (one place
 * for each rule). Each check returns the violations it found, by name; an empty list means healthy.
 */
import type pg from "pg";
import { integrityProblems, MIGRATIONS_DIR, migrationState, unrecorded } from "./migrate";

export interface CheckResult {
  name: string;
  /** Why the rule exists, for the report. */
  why: string;
  problems: string[];
}

type Queryable = pg.Pool | pg.ClientBase;

/** The project's schemas in catalog queries (every schema but the system ones and `public`), for a schema-name column. */
export const ours = (nsp: string) => `${nsp} NOT IN ('pg_catalog', 'information_schema', 'public') AND ${nsp} NOT LIKE 'pg\\_%'`;
const OURS = ours("n.nspname");
const list = async (db: Queryable, sql: string, params: unknown[] = []) => (await db.query<{ v: string }>(sql, params)).rows.map((r) => r.v);

/** Catalog conventions every migration must follow (README "Conventions"). */
export const CONVENTIONS: { name: string; why: string; sql: string }[] = [
  {
    name: "tables have a primary key",
    why: "rows must be addressable; logical replication and tooling need it",
    sql: `SELECT c.oid::regclass::text AS v FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE ${OURS} AND c.relkind IN ('r', 'p') AND NOT c.relispartition
             AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')`,
  },
  {
    name: "foreign keys state ON DELETE",
    why: "what happens to children is a decision, not a default (NO ACTION counts as unstated)",
    sql: `SELECT k.conrelid::regclass::text || '.' || k.conname AS v FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
           WHERE ${OURS} AND k.contype = 'f' AND k.confdeltype = 'a' AND k.conparentid = 0`,
  },
  {
    name: "foreign keys are indexed",
    why: "deleting or updating a parent otherwise scans the whole child table under lock",
    sql: `SELECT k.conrelid::regclass::text || '.' || k.conname AS v FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
           WHERE ${OURS} AND k.contype = 'f' AND k.conparentid = 0
             AND NOT EXISTS (
               SELECT FROM pg_index i WHERE i.indrelid = k.conrelid
                  AND (SELECT array_agg(x ORDER BY x) FROM unnest((i.indkey::int2[])[0:cardinality(k.conkey) - 1]) x)
                    = (SELECT array_agg(x ORDER BY x) FROM unnest(k.conkey) x))`,
  },
  {
    name: "schemas and tables have a COMMENT",
    why: "DBAs review the schema without the application code at hand",
    sql: `SELECT n.nspname AS v FROM pg_namespace n WHERE ${OURS} AND obj_description(n.oid, 'pg_namespace') IS NULL
          UNION ALL
          SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE ${OURS} AND c.relkind IN ('r', 'p') AND obj_description(c.oid, 'pg_class') IS NULL`,
  },
  {
    name: "timestamps carry a time zone",
    why: "timestamp without time zone silently depends on the session's TimeZone",
    sql: `SELECT c.oid::regclass::text || '.' || a.attname AS v FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE ${OURS} AND c.relkind IN ('r', 'p', 'v') AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid = 'timestamp'::regtype`,
  },
  {
    name: "tenant-owned tables have RLS enabled and forced",
    why: "tenant isolation is enforced by the database, not by remembering a WHERE clause",
    sql: `SELECT DISTINCT c.oid::regclass::text AS v FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname IN ('tenant_id', 'customer_id', 'organization_id')
           WHERE ${OURS} AND c.relkind IN ('r', 'p') AND NOT c.relispartition
             AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p' AND k.conkey = ARRAY[a.attnum])
             AND NOT (c.relrowsecurity AND c.relforcerowsecurity)`,
  },
  {
    name: "partitioned (audit) tables are append-only for everyone",
    why: "audit rows are evidence: the guard stops the owner, missing grants stop the application role",
    sql: `SELECT c.oid::regclass::text AS v FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE ${OURS} AND NOT c.relispartition
             AND ((SELECT count(*) FROM pg_trigger WHERE tgrelid = c.oid AND tgname IN ('append_only_row', 'append_only_truncate')) < 2
                  OR has_table_privilege('app', c.oid, 'UPDATE') OR has_table_privilege('app', c.oid, 'DELETE')
                  OR has_table_privilege('app', c.oid, 'TRUNCATE'))`,
  },
];

export async function checkConventions(db: Queryable): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const c of CONVENTIONS) out.push({ name: c.name, why: c.why, problems: await list(db, c.sql) });
  return out;
}

/** Everything `make doctor` checks: server, extensions, migrations, partitions, then the conventions. */
export async function doctor(db: Queryable, { monthsAhead = 3, dir = MIGRATIONS_DIR } = {}): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const version = Number((await db.query("SHOW server_version_num")).rows[0].server_version_num);
  results.push({ name: "PostgreSQL 15 or newer", why: "the schema uses PG15 features", problems: version >= 150000 ? [] : [`server_version_num ${version}`] });

  const ext = await list(db, "SELECT name AS v FROM unnest(ARRAY['vector', 'pgcrypto']) name WHERE NOT EXISTS (SELECT FROM pg_extension WHERE extname = name)");
  results.push({
    name: "required extensions installed",
    why: "vector and pgcrypto are used by the schemas",
    problems: ext.map((e) => `missing extension ${e}`),
  });

  const state = await migrationState(db, dir);
  const missing = unrecorded(state);
  results.push({
    name: "migrations applied as written (checksums), none unknown, none pending",
    why: "the database must match migrations/ exactly: an applied migration edited afterwards or run out of order is a schema nobody reviewed",
    problems: [
      ...integrityProblems(state),
      ...state.files.filter((f) => !state.applied.includes(f.name)).map((f) => `pending: ${f.name}`),
      ...(missing.length ? [`no checksum recorded yet for ${missing.length} applied migration(s): run make migrate once to adopt them (docs/dba.md)`] : []),
    ],
  });

  const ahead = await list(
    db,
    `WITH months AS (
       SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => g), 'YYYY_MM') AS m FROM generate_series(0, $1::int) g)
     SELECT t::text || ': no partition for ' || m AS v
       FROM core.monthly_partitioned_tables() t CROSS JOIN months
      WHERE NOT EXISTS (SELECT FROM pg_inherits i WHERE i.inhparent = t AND i.inhrelid = to_regclass(t::text || '_p' || m))
     ORDER BY 1`,
    [monthsAhead],
  ).catch(() => ["core.monthly_partitioned_tables() is missing: run make migrate"]);
  results.push({ name: `partitions exist ${monthsAhead} months ahead`, why: "inserts beyond the last month land in DEFAULT", problems: ahead });

  const defaults = await list(
    db,
    "SELECT parent || ': ' || row_count || ' row(s) in ' || partition_name AS v FROM core.partition_report() WHERE is_default AND row_count > 0",
  ).catch(() => []);
  results.push({ name: "DEFAULT partitions are empty", why: "rows there block creating their month's partition", problems: defaults });

  const invalid = await list(
    db,
    `SELECT n.nspname || '.' || c.relname || ' on ' || i.indrelid::regclass::text AS v
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
  );
  results.push({
    name: "no INVALID indexes",
    why: "a cancelled or failed CREATE INDEX CONCURRENTLY leaves one: it costs writes and serves no read; drop it (DROP INDEX CONCURRENTLY) and build it again",
    problems: invalid,
  });

  return [...results, ...(await checkConventions(db))];
}

/** A readable report; returns true when every check passed. */
export function formatReport(results: CheckResult[]): { text: string; ok: boolean } {
  const lines = results.map((r) => (r.problems.length ? `FAIL ${r.name} (${r.why})\n${r.problems.map((p) => `       - ${p}`).join("\n")}` : `ok   ${r.name}`));
  const ok = results.every((r) => r.problems.length === 0);
  return { text: `${lines.join("\n")}\n\n${ok ? "healthy" : "problems found"}`, ok };
}
