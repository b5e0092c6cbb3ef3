/**
 * A deterministic text dump of the schema objects this project owns, read from the catalog. Used to prove
 * migrations are reversible (up, down to zero, up again gives the same dump) on both engines, where
 * pg_dump is not available for PGlite. Objects that belong to extensions and the migrations table are
 * left out; everything else in non-system schemas is in, with comments, ACLs, RLS flags and policies.
 */
import type pg from "pg";

const OWN = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%'`;
const NOT_EXT = (classid: string, oid: string) =>
  `NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = '${classid}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;

const SECTIONS: Record<string, string> = {
  extension: `SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'`,
  schema: `SELECT n.nspname || ' acl=' || coalesce(n.nspacl::text, '') || ' comment=' || coalesce(obj_description(n.oid, 'pg_namespace'), '')
             FROM pg_namespace n WHERE ${OWN} AND n.nspname <> 'public'`,
  relation: `SELECT c.oid::regclass::text || ' kind=' || c.relkind::text || ' rls=' || c.relrowsecurity || '/' || c.relforcerowsecurity
               || ' bound=' || coalesce(pg_get_expr(c.relpartbound, c.oid), '') || ' acl=' || coalesce(c.relacl::text, '')
               || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '')
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE ${OWN} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.relname NOT LIKE 'pgmigrations%' AND ${NOT_EXT("pg_class", "c.oid")}`,
  column: `SELECT c.oid::regclass::text || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
             || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
             || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
             || CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
             || CASE WHEN a.attgenerated <> '' THEN ' generated' ELSE '' END
             || ' comment=' || coalesce(col_description(c.oid, a.attnum), '')
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
          WHERE ${OWN} AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
            AND c.relname NOT LIKE 'pgmigrations%' AND ${NOT_EXT("pg_class", "c.oid")}`,
  constraint: `SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(co.oid)
                 || ' comment=' || coalesce(obj_description(co.oid, 'pg_constraint'), '')
               FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace
              WHERE ${OWN} AND conrelid <> 0 AND conrelid::regclass::text NOT LIKE '%pgmigrations%'`,
  index: `SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE ${OWN} AND i.indrelid::regclass::text NOT LIKE '%pgmigrations%' AND ${NOT_EXT("pg_class", "i.indrelid")}`,
  trigger: `SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${OWN} AND NOT t.tgisinternal`,
  function: `SELECT pg_get_functiondef(p.oid) || ' acl=' || coalesce(p.proacl::text, '') || ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '')
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE ${OWN} AND p.prokind IN ('f', 'p') AND ${NOT_EXT("pg_proc", "p.oid")}`,
  type: `SELECT format_type(t.oid, NULL) || ' ' || t.typtype::text || ' ' || coalesce((SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '')
             || ' comment=' || coalesce(obj_description(t.oid, 'pg_type'), '')
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
          WHERE ${OWN} AND t.typtype IN ('e', 'd', 'c') AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
            AND ${NOT_EXT("pg_type", "t.oid")}`,
  policy: `SELECT schemaname || '.' || tablename || ' ' || policyname || ' ' || permissive || ' ' || roles::text || ' ' || cmd
             || ' using=' || coalesce(qual, '') || ' check=' || coalesce(with_check, '') FROM pg_policies`,
};

/** Sorted lines "section: definition" describing every owned schema object. */
export async function catalogDump(client: pg.ClientBase | pg.Pool): Promise<string[]> {
  const lines: string[] = [];
  for (const [section, sql] of Object.entries(SECTIONS)) {
    const { rows } = await client.query<Record<string, string>>({ text: sql, rowMode: "array" } as pg.QueryConfig);
    for (const row of rows as unknown as string[][]) lines.push(`${section}: ${row[0]}`);
  }
  return lines.sort();
}
