/**
 * Drift detection (`make drift`): does the live schema still match what its applied migrations produce?
 * Hand-made hotfixes (an index added in production, a policy edited, a GRANT given "just for now") leave a
 * database that no migration describes; the next migration, a restore or a new environment then behaves
 * differently. This compares the two and prints each difference in words a DBA acts on.
 *
 * How: read which migrations the live database has applied (`public.pgmigrations`), replay exactly those
 * (not pending ones: those are `make doctor`'s business) on a throwaway database, take a catalog snapshot of
 * both, diff. The replay runs on the SAME engine kind as the live database — a scratch database on the same
 * server (dropped after), or a throwaway in-memory PGlite for the embedded engine — because pg_get_*def and
 * pg_get_expr print definitions differently between PostgreSQL versions (PGlite is 18, a server may be 15):
 * comparing across versions would report formatting as drift. The kind comes from the live server's
 * version() string (PGlite names itself there), or from the caller (`opts.engine`).
 *
 * What the snapshot covers, in every non-system schema except `public` (ours: core, screening, workspace,
 * wills): schemas, tables (kind, RLS enabled/forced, partition key and bound, storage options), columns
 * (type, default, NOT NULL, identity, generated, collation), constraints, indexes (name and definition,
 * validity), views, sequences, enum/domain/composite types, functions and procedures (arguments, result,
 * language, body, SECURITY DEFINER, volatility, strictness, parallel safety, SET options), triggers
 * (definition and enabled state), policies (command, permissive/restrictive, roles, USING, WITH CHECK),
 * comments, and privileges granted to any role that is neither the object's owner nor a superuser (PUBLIC
 * included): table, column, function EXECUTE and schema USAGE. Not covered: ownership (the live database may
 * be owned by another role than the one replaying), default privileges, extensions and their versions
 * (`make doctor` checks the required ones), statistics targets, and anything in `public`.
 *
 * Left out on purpose: objects that belong to extensions; monthly partitions (`<parent>_pYYYY_MM`) with
 * everything on them, because `make partitions` creates them at run time by the calendar (the migrations
 * themselves create the months current when they ran), so they differ between any two databases without
 * anyone having drifted; objects a partition inherits from its parent (cloned indexes, constraints,
 * triggers, its columns), because a difference there already shows on the parent. Order never counts.
 *
 * Exit codes for CI (`formatDrift`, `checkDrift`): 0 no drift, 1 drift found (including applied migrations
 * that do not match migrations/), 2 could not check (connection, no CREATEDB for the scratch database, a
 * replay that failed).
 */
import pg from "pg";
import { type EngineKind, startEmbedded } from "../db/engine";
import { createDatabase } from "./databases";
import { ours } from "./doctor";
import { historyGaps, MIGRATIONS_DIR, type MigrationState, migrate, migrationState } from "./migrate";

export const EXIT_NO_DRIFT = 0;
export const EXIT_DRIFT = 1;
export const EXIT_CANNOT_CHECK = 2;
export type DriftExitCode = typeof EXIT_NO_DRIFT | typeof EXIT_DRIFT | typeof EXIT_CANNOT_CHECK;

/** One schema object: `kind` and `name` identify it, `fields` hold its normalised definition. */
export interface SchemaObject {
  kind: string;
  name: string;
  fields: Record<string, string>;
  /** The table (or view) it belongs to, if any: when that table is itself extra or missing, it goes with it. */
  of?: string;
}

/** Objects keyed by `<kind> <name>`, in key order. */
export type Snapshot = Map<string, SchemaObject>;

type Queryable = pg.Pool | pg.ClientBase;

const notExtension = (classid: string, oid: string) =>
  `NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = '${classid}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;
/** A monthly partition: a partition named `<its parent>_pYYYY_MM`. */
const calendar = (c: string) => `(${c}.relispartition AND EXISTS (
  SELECT FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
   WHERE i.inhrelid = ${c}.oid AND left(${c}.relname, length(p.relname)) = p.relname
     AND substr(${c}.relname, length(p.relname) + 1) ~ '^_p[0-9]{4}_[0-9]{2}$'))`;
const sorted = (arr: string) => `array_to_string(ARRAY(SELECT x FROM unnest(${arr}) x ORDER BY 1), ', ')`;
const RELKIND = `CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'f' THEN 'foreign table'
  WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' END`;

/** Each query returns `kind`, `name` and the definition fields (column aliases are the labels in messages). */
const SECTIONS: string[] = [
  `SELECT 'schema' AS kind, format('%I', n.nspname) AS name, obj_description(n.oid, 'pg_namespace') AS comment
     FROM pg_namespace n WHERE ${ours("n.nspname")} AND ${notExtension("pg_namespace", "n.oid")}`,

  `SELECT CASE WHEN c.relkind IN ('v', 'm') THEN 'view' WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END AS kind,
          format('%I.%I', n.nspname, c.relname) AS name,
          (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid AND c.relispartition) AS of,
          ${RELKIND} AS "relation kind",
          CASE WHEN c.relkind NOT IN ('r', 'p') THEN NULL WHEN c.relrowsecurity AND c.relforcerowsecurity THEN 'enabled and forced'
               WHEN c.relrowsecurity THEN 'enabled, not forced' WHEN c.relforcerowsecurity THEN 'disabled (force flag set)' ELSE 'disabled' END
            AS "row level security",
          CASE WHEN c.relispartition THEN (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid) || ' ' || pg_get_expr(c.relpartbound, c.oid) END
            AS "partition of",
          CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS "partition key",
          ${sorted("c.reloptions")} AS "storage options",
          CASE WHEN c.relpersistence = 'u' THEN 'UNLOGGED' END AS persistence,
          (SELECT format('%s START %s INCREMENT %s MINVALUE %s MAXVALUE %s CACHE %s%s', format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
                         s.seqmin, s.seqmax, s.seqcache, CASE WHEN s.seqcycle THEN ' CYCLE' ELSE '' END)
             FROM pg_sequence s WHERE s.seqrelid = c.oid) AS sequence,
          CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END AS query,
          obj_description(c.oid, 'pg_class') AS comment
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE ${ours("n.nspname")} AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S') AND NOT ${calendar("c")} AND ${notExtension("pg_class", "c.oid")}`,

  `SELECT 'column' AS kind, format('%I.%I.%I', n.nspname, c.relname, a.attname) AS name, format('%I.%I', n.nspname, c.relname) AS of,
          format_type(a.atttypid, a.atttypmod) AS type,
          CASE WHEN a.attnotnull THEN 'NOT NULL' ELSE 'nullable' END AS nullability,
          CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS "default",
          CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS "generated as",
          CASE a.attidentity WHEN 'a' THEN 'GENERATED ALWAYS' WHEN 'd' THEN 'GENERATED BY DEFAULT' END AS identity,
          CASE WHEN a.attcollation <> t.typcollation THEN a.attcollation::regcollation::text END AS collation,
          col_description(c.oid, a.attnum) AS comment
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_type t ON t.oid = a.atttypid
     LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    WHERE ${ours("n.nspname")} AND c.relkind IN ('r', 'p', 'f') AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped
      AND ${notExtension("pg_class", "c.oid")}`,

  // NOT NULL constraints (pg_constraint rows since PostgreSQL 18) are the columns' nullability above.
  `SELECT 'constraint' AS kind,
          format('%I on %s', co.conname, CASE WHEN co.conrelid <> 0 THEN format('%I.%I', n.nspname, c.relname) ELSE format('domain %s', co.contypid::regtype) END) AS name,
          CASE WHEN co.conrelid <> 0 THEN format('%I.%I', n.nspname, c.relname) END AS of,
          pg_get_constraintdef(co.oid) AS definition,
          obj_description(co.oid, 'pg_constraint') AS comment
     FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace LEFT JOIN pg_class c ON c.oid = co.conrelid
    WHERE ${ours("n.nspname")} AND co.contype <> 'n' AND co.conparentid = 0 AND co.conislocal
      AND (c.oid IS NULL OR (NOT ${calendar("c")} AND ${notExtension("pg_class", "c.oid")}))
      AND (co.contypid = 0 OR ${notExtension("pg_type", "co.contypid")})`,

  `SELECT 'index' AS kind, format('%I.%I on %I.%I', n.nspname, ic.relname, n.nspname, c.relname) AS name, format('%I.%I', n.nspname, c.relname) AS of,
          pg_get_indexdef(i.indexrelid) AS definition,
          CASE WHEN i.indisvalid THEN 'valid' ELSE 'INVALID' END AS validity,
          obj_description(ic.oid, 'pg_class') AS comment
     FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE ${ours("n.nspname")} AND NOT ${calendar("c")} AND ${notExtension("pg_class", "c.oid")}
      AND NOT (c.relispartition AND EXISTS (SELECT FROM pg_inherits h WHERE h.inhrelid = i.indexrelid))`,

  `SELECT 'trigger' AS kind, format('%I on %I.%I', t.tgname, n.nspname, c.relname) AS name, format('%I.%I', n.nspname, c.relname) AS of,
          pg_get_triggerdef(t.oid) AS definition,
          CASE t.tgenabled WHEN 'O' THEN 'enabled' WHEN 'D' THEN 'DISABLED' WHEN 'R' THEN 'ENABLE REPLICA' WHEN 'A' THEN 'ENABLE ALWAYS' END AS state,
          obj_description(t.oid, 'pg_trigger') AS comment
     FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE ${ours("n.nspname")} AND NOT t.tgisinternal AND t.tgparentid = 0 AND NOT ${calendar("c")} AND ${notExtension("pg_class", "c.oid")}`,

  // prosrc is the body exactly as written; SQL-standard bodies (BEGIN ATOMIC) live in prosqlbody instead.
  `SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END AS kind, p.oid::regprocedure::text AS name,
          pg_get_function_arguments(p.oid) AS arguments,
          pg_get_function_result(p.oid) AS returns,
          l.lanname AS language,
          CASE WHEN p.prosecdef THEN 'SECURITY DEFINER' ELSE 'SECURITY INVOKER' END AS security,
          CASE p.provolatile WHEN 'i' THEN 'IMMUTABLE' WHEN 's' THEN 'STABLE' ELSE 'VOLATILE' END AS volatility,
          CASE WHEN p.proisstrict THEN 'STRICT' ELSE 'CALLED ON NULL INPUT' END AS "null input",
          CASE p.proparallel WHEN 's' THEN 'PARALLEL SAFE' WHEN 'r' THEN 'PARALLEL RESTRICTED' ELSE 'PARALLEL UNSAFE' END AS parallel,
          CASE WHEN p.proleakproof THEN 'LEAKPROOF' END AS leakproof,
          ${sorted("p.proconfig")} AS "SET options",
          CASE WHEN p.prosqlbody IS NOT NULL THEN pg_get_functiondef(p.oid) ELSE p.prosrc END AS body,
          obj_description(p.oid, 'pg_proc') AS comment
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
    WHERE ${ours("n.nspname")} AND p.prokind IN ('f', 'p') AND ${notExtension("pg_proc", "p.oid")}`,

  `SELECT 'policy' AS kind, format('%I on %I.%I', policyname, schemaname, tablename) AS name, format('%I.%I', schemaname, tablename) AS of,
          cmd AS command, permissive AS "as", ${sorted("roles::text[]")} AS roles, qual AS "USING", with_check AS "WITH CHECK"
     FROM pg_policies WHERE ${ours("schemaname")}`,

  `SELECT 'type' AS kind, t.oid::regtype::text AS name,
          CASE t.typtype
            WHEN 'e' THEN 'ENUM (' || (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) || ')'
            WHEN 'd' THEN 'DOMAIN OVER ' || format_type(t.typbasetype, t.typtypmod) || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END
                          || coalesce(' DEFAULT ' || t.typdefault, '')
            ELSE '(' || (SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)
                           FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) || ')'
          END AS definition,
          obj_description(t.oid, 'pg_type') AS comment
     FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE ${ours("n.nspname")} AND ${notExtension("pg_type", "t.oid")}
      AND (t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))`,

  // Privileges: a NULL ACL means the defaults (acldefault), e.g. EXECUTE for PUBLIC on a function. Grants to
  // the owner and to superusers change nothing anyone can do, and the owner may differ between the live
  // database and the replay, so both are left out.
  `WITH acl AS (
     SELECT format('%s %I.%I', CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'view' ELSE 'table' END, n.nspname, c.relname) AS obj,
            format('%I.%I', n.nspname, c.relname) AS of, c.relowner AS owner, coalesce(c.relacl, acldefault((CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::"char", c.relowner)) AS acl
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${ours("n.nspname")} AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S') AND NOT ${calendar("c")} AND ${notExtension("pg_class", "c.oid")}
     UNION ALL
     SELECT format('column %I.%I (%I)', n.nspname, c.relname, a.attname), format('%I.%I', n.nspname, c.relname), c.relowner, a.attacl
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${ours("n.nspname")} AND a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped AND NOT ${calendar("c")} AND ${notExtension("pg_class", "c.oid")}
     UNION ALL
     SELECT format('%s %s', CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, p.oid::regprocedure), NULL, p.proowner, coalesce(p.proacl, acldefault('f'::"char", p.proowner))
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE ${ours("n.nspname")} AND p.prokind IN ('f', 'p') AND ${notExtension("pg_proc", "p.oid")}
     UNION ALL
     SELECT format('schema %I', n.nspname), NULL, n.nspowner, coalesce(n.nspacl, acldefault('n'::"char", n.nspowner))
       FROM pg_namespace n WHERE ${ours("n.nspname")} AND ${notExtension("pg_namespace", "n.oid")})
   SELECT 'grant' AS kind,
          format('%s %s on %s', CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END, x.privilege_type, acl.obj) AS name, acl.of,
          CASE WHEN x.is_grantable THEN 'WITH GRANT OPTION' ELSE 'no' END AS "grant option"
     FROM acl CROSS JOIN LATERAL aclexplode(acl.acl) x
    WHERE x.grantee <> acl.owner AND NOT EXISTS (SELECT FROM pg_roles r WHERE r.oid = x.grantee AND r.rolsuper)`,
];

/**
 * Run `fn` in a transaction on `c` with search_path = pg_catalog, so every pg_get_*def and regclass prints
 * names schema-qualified whatever the database's or role's own search_path (the live database and the
 * replay must print alike). Inside the caller's transaction (a test's BEGIN; mutate; snapshot; ROLLBACK) a
 * savepoint scopes the setting; otherwise a read-only REPEATABLE READ transaction gives one consistent view.
 */
async function pinned<T>(c: pg.ClientBase, fn: () => Promise<T>): Promise<T> {
  const status = c.getTransactionStatus();
  if (status === "E") throw new Error("drift snapshot: the client's transaction has failed; roll it back first");
  const nested = status === "T";
  await c.query(nested ? "SAVEPOINT drift_snapshot" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    await c.query("SELECT set_config('search_path', 'pg_catalog', true)");
    return await fn();
  } finally {
    await c.query(nested ? "ROLLBACK TO SAVEPOINT drift_snapshot; RELEASE SAVEPOINT drift_snapshot" : "ROLLBACK");
  }
}

/** A catalog snapshot of the project's schemas (see the header for what it covers and leaves out). */
export async function snapshot(db: Queryable): Promise<Snapshot> {
  const c = db instanceof pg.Pool ? await db.connect() : db;
  try {
    const objects = await pinned(c, async () => {
      const out: SchemaObject[] = [];
      for (const sql of SECTIONS) {
        const { rows } = await c.query<Record<string, string | null>>(sql);
        for (const { kind, name, of, ...rest } of rows) {
          const fields: Record<string, string> = {};
          for (const [k, v] of Object.entries(rest)) if (v !== null && v !== "") fields[k] = v; // absent = empty
          out.push({ kind: kind as string, name: name as string, fields, ...(of ? { of } : {}) });
        }
      }
      return out;
    });
    const snap: Snapshot = new Map();
    for (const o of objects.sort((a, b) => byCodePoint(key(a), key(b)))) {
      if (snap.has(key(o))) throw new Error(`drift snapshot: two objects named ${key(o)}`);
      snap.set(key(o), o);
    }
    return snap;
  } finally {
    if (db instanceof pg.Pool) (c as pg.PoolClient).release();
  }
}

const key = (o: SchemaObject) => `${o.kind} ${o.name}`;
/** The same order on every machine (localeCompare depends on the locale). */
const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The order differences are listed in: containers first, privileges last. */
const KIND_ORDER = ["schema", "type", "table", "sequence", "view", "column", "constraint", "index", "trigger", "function", "procedure", "policy", "grant"];
/** Fields too long to print whole: a change names the first line that differs. */
const LONG = new Set(["body", "query"]);
/** Fields whose value reads on its own in a summary (no label in front). */
const BARE = new Set(["definition", "type", "nullability", "relation kind", "identity"]);

const oneLine = (v: string) => v.replace(/\s+/g, " ").trim();
const shown = (v: string) => (v === "" ? "(none)" : oneLine(v));

/** What an extra or missing object is, in one line: its short fields, comments left out. */
function summary(o: SchemaObject): string {
  return Object.entries(o.fields)
    .filter(([k, v]) => v !== "" && !LONG.has(k) && k !== "comment")
    .map(([k, v]) => (BARE.has(k) ? oneLine(v) : `${k} ${oneLine(v)}`))
    .join(", ");
}

function firstDifference(was: string, now: string): string {
  const a = was.split("\n").map(oneLine);
  const b = now.split("\n").map(oneLine);
  const i = a.findIndex((line, n) => line !== b[n]);
  const at = i === -1 ? a.length : i;
  if (at >= b.length && at >= a.length) return "in whitespace only";
  const clip = (s: string | undefined) => (s === undefined ? "(no line)" : JSON.stringify(s.slice(0, 120)));
  return `first difference at line ${at + 1}: was ${clip(a[at])}, now ${clip(b[at])}`;
}

/** The grantee and the rest of a grant's name ("app UPDATE on table x" -> ["app", "UPDATE on table x"]). */
const grantParts = (name: string): [string, string] => {
  const i = name.indexOf(" ");
  return [name.slice(0, i), name.slice(i + 1)];
};

const plural = (kind: string, n: number) => (n === 1 ? `1 ${kind}` : `${n} ${kind === "index" ? "indexes" : kind === "policy" ? "policies" : `${kind}s`}`);

/** " (with 16 columns, 7 indexes; " for a table that goes with its parts, else " (". */
function withParts(parts: SchemaObject[] | undefined): string {
  if (!parts?.length) return " (";
  const counts = new Map<string, number>();
  for (const p of parts) {
    const kind = RELATIONS.has(p.kind) ? "partition" : p.kind; // a table that belongs to a table
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return ` (with ${[...counts].map(([k, n]) => plural(k, n)).join(", ")}; `;
}

function extra(o: SchemaObject, parts?: SchemaObject[]): string {
  if (o.kind === "grant") {
    const [who, what] = grantParts(o.name);
    return `grant: ${who} has ${what} that the migrations do not give (REVOKE it, or write a migration that grants it)`;
  }
  const s = summary(o);
  return `extra ${o.kind} ${o.name}${s ? `: ${s}` : ""}${withParts(parts)}not created by any migration: drop it or write a migration for it)`;
}

function missing(o: SchemaObject, parts?: SchemaObject[]): string {
  if (o.kind === "grant") {
    const [who, what] = grantParts(o.name);
    return `grant: ${who} lacks ${what} that the migrations give (GRANT it back, or write a migration that revokes it)`;
  }
  const s = summary(o);
  return `missing ${o.kind} ${o.name}${s ? `: ${s}` : ""}${withParts(parts)}the migrations create it: restore it, or write a migration that drops it)`;
}

function changed(expected: SchemaObject, actual: SchemaObject): string[] {
  const out: string[] = [];
  for (const field of new Set([...Object.keys(expected.fields), ...Object.keys(actual.fields)])) {
    const was = expected.fields[field] ?? "";
    const now = actual.fields[field] ?? "";
    if (was === now) continue;
    const what = LONG.has(field) ? `${field} changed (${firstDifference(was, now)})` : `${field} changed from ${shown(was)} to ${shown(now)}`;
    out.push(`${expected.kind} ${expected.name}: ${what} (not what the migrations produce: restore it, or write a migration for the change)`);
  }
  return out;
}

const RELATIONS = new Set(["table", "view", "sequence"]);

/**
 * Objects only one side has, grouped under the extra or missing table they belong to (its columns, indexes,
 * partitions...), so a dropped table is one line rather than forty. Returns parts by table name.
 */
function foldIntoTables(only: SchemaObject[]): { lines: SchemaObject[]; parts: Map<string, SchemaObject[]> } {
  const tables = new Map(only.filter((o) => RELATIONS.has(o.kind)).map((o) => [o.name, o]));
  const top = (o: SchemaObject): string | undefined => {
    let t = o.of;
    let found: string | undefined;
    while (t && tables.has(t)) {
      found = t;
      t = tables.get(t)?.of;
    }
    return found;
  };
  const parts = new Map<string, SchemaObject[]>();
  const lines: SchemaObject[] = [];
  for (const o of only) {
    const t = top(o);
    if (t) parts.set(t, [...(parts.get(t) ?? []), o]);
    else lines.push(o);
  }
  return { lines, parts };
}

/** One line per difference between what the migrations produce (`expected`) and the live schema (`actual`). */
export function diffSnapshots(expected: Snapshot, actual: Snapshot): string[] {
  const extras = foldIntoTables([...actual].filter(([k]) => !expected.has(k)).map(([, o]) => o));
  const missings = foldIntoTables([...expected].filter(([k]) => !actual.has(k)).map(([, o]) => o));
  const lines: [SchemaObject, string[]][] = [
    ...[...expected].flatMap(([k, e]) => {
      const a = actual.get(k);
      return a ? [[e, changed(e, a)] as [SchemaObject, string[]]] : [];
    }),
    ...extras.lines.map((o): [SchemaObject, string[]] => [o, [extra(o, extras.parts.get(o.name))]]),
    ...missings.lines.map((o): [SchemaObject, string[]] => [o, [missing(o, missings.parts.get(o.name))]]),
  ];
  const rank = (o: SchemaObject) => (KIND_ORDER.includes(o.kind) ? KIND_ORDER.indexOf(o.kind) : KIND_ORDER.length);
  lines.sort(([a], [b]) => rank(a) - rank(b) || byCodePoint(a.name, b.name));
  return lines.flatMap(([, l]) => l);
}

export interface DriftOptions {
  /** The migrations directory (default migrations/). */
  dir?: string;
  /** The live database's engine kind; by default read from its version() string. */
  engine?: EngineKind;
}

export interface DriftResult {
  /** One line per difference; empty when the live schema matches. */
  differences: string[];
  /** The migrations applied on the live database, in the order they ran. */
  applied: string[];
  /** Where the applied migrations were replayed, or why they were not. */
  replayedOn: string;
}

const versionString = async (db: Queryable) => (await db.query<{ v: string }>("SELECT version() AS v")).rows[0]?.v ?? "?";
/** PGlite names itself in version() ("PostgreSQL 18.6 (PGlite 0.5.14) on wasm32-unknown-emscripten ..."). */
const kindOf = (v: string): EngineKind => (/PGlite/i.test(v) ? "embedded" : "server");
const shortVersion = (v: string) => v.replace(/ on .*$/, "");
const version = async (db: Queryable) => shortVersion(await versionString(db));

/** Why the applied history cannot be replayed as the first N files of migrations/ (empty when it can). */
function historyProblems(state: Pick<MigrationState, "files" | "applied">): string[] {
  const { vanished, skipped } = historyGaps(state);
  return [
    ...vanished.map(
      (a) => `migration history: ${a} is recorded as applied but is not in migrations/ (restore its file: the schema it made cannot be replayed without it)`,
    ),
    ...skipped.map(
      (f) => `migration history: ${f.name} is not applied although a later migration is (the live history cannot be replayed in order; make doctor explains)`,
    ),
  ];
}

/** Apply the first `applied.length` migrations (the same set, checked) on an empty database at `url` and snapshot it. */
async function migrateAndSnapshot(url: string, applied: string[], dir: string): Promise<{ snap: Snapshot; version: string }> {
  const ran = await migrate(url, { direction: "up", count: applied.length, dir });
  if ([...ran].sort().join("\n") !== [...applied].sort().join("\n")) {
    throw new Error(`replay applied ${ran.length} migration(s), not the ${applied.length} applied on the live database`);
  }
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return { snap: await snapshot(c), version: await version(c) };
  } finally {
    await c.end();
  }
}

/** Replay on a throwaway database of the live database's engine kind (see the header for why). */
async function replay(liveUrl: string, kind: EngineKind, applied: string[], dir: string): Promise<{ snap: Snapshot; where: string; version: string }> {
  if (kind === "embedded") {
    const engine = await startEmbedded();
    try {
      const r = await migrateAndSnapshot(engine.url, applied, dir);
      return { ...r, where: `a throwaway in-memory PGlite (${r.version})` };
    } finally {
      await engine.stop();
    }
  }
  const scratch = await createDatabase(liveUrl).catch((e: Error) => {
    throw new Error(`cannot create a scratch database on the live server to replay the migrations (the user needs CREATEDB): ${e.message}`);
  });
  try {
    const r = await migrateAndSnapshot(scratch.url, applied, dir);
    return { ...r, where: `a scratch database on the same server (${r.version}), dropped afterwards` };
  } finally {
    await scratch.drop();
  }
}

/** Compare the live schema at `liveUrl` with what its applied migrations produce. Throws when it cannot check. */
export async function drift(liveUrl: string, opts: DriftOptions = {}): Promise<DriftResult> {
  const dir = opts.dir ?? MIGRATIONS_DIR;
  const live = new pg.Client({ connectionString: liveUrl });
  await live.connect();
  let kind: EngineKind;
  let liveVersion: string;
  let state: MigrationState;
  let actual: Snapshot;
  try {
    const full = await versionString(live);
    kind = opts.engine ?? kindOf(full);
    liveVersion = shortVersion(full);
    state = await migrationState(live, dir);
    actual = await snapshot(live);
  } finally {
    await live.end();
  }
  const applied = state.applied;
  const problems = historyProblems(state);
  if (problems.length) return { differences: problems, applied, replayedOn: "nothing replayed: the applied migrations are not the first files of migrations/" };
  // No migration applied: what they produce is an empty set of schemas, no replay needed.
  if (applied.length === 0) return { differences: diffSnapshots(new Map(), actual), applied, replayedOn: "nothing replayed: no migration is applied" };
  const r = await replay(liveUrl, kind, applied, dir);
  // Same engine kind is normally the same version; when it is not (an explicit opts.engine, a PGlite served by
  // another checkout's package), definitions may print differently: say so rather than hide it.
  const note = r.version === liveVersion ? "" : `; the live database runs ${liveVersion}, so some differences may be formatting only`;
  return { differences: diffSnapshots(r.snap, actual), applied, replayedOn: `${r.where}${note}` };
}

/** The report `make drift` prints, and its exit code. */
export function formatDrift(r: DriftResult): { text: string; code: DriftExitCode } {
  const head = r.replayedOn.startsWith("nothing replayed")
    ? `${r.applied.length} applied migration(s); ${r.replayedOn}`
    : `replayed the ${r.applied.length} applied migration(s) on ${r.replayedOn}`;
  if (r.differences.length === 0) {
    const what = r.applied.length ? "the live schema matches what the applied migrations produce" : "no migration is applied and no project schema exists";
    return { text: `${head}\n\nno drift: ${what}`, code: EXIT_NO_DRIFT };
  }
  return {
    text: `${head}\n\n${r.differences.map((d) => `  - ${d}`).join("\n")}\n\ndrift found: ${r.differences.length} difference(s)`,
    code: EXIT_DRIFT,
  };
}

/** drift + formatDrift, with any failure to check turned into a report and EXIT_CANNOT_CHECK (for the CLI). */
export async function checkDrift(liveUrl: string, opts: DriftOptions = {}): Promise<{ text: string; code: DriftExitCode }> {
  try {
    return formatDrift(await drift(liveUrl, opts));
  } catch (e) {
    return { text: `could not check for drift: ${(e as Error).message}`, code: EXIT_CANNOT_CHECK };
  }
}
