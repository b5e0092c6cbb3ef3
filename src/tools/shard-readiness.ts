/**
 * Scale-out readiness (issue 18, item 4; docs/scale-out.md). SHARD_PLAN declares, for every table of ours,
 * the role it would have under Citus: `distributed` by a named column (tables sharing a co-location group
 * have their shards side by side, so joins and foreign keys between them stay on one node), `reference`
 * (one copy on every node: small, read everywhere) or `local` (stays on the coordinator).
 * shardReadiness() reads the catalog and reports, per rule, what each table breaks today for its planned
 * role: the distance to sharding as a number later changes can shrink. Nothing here changes the schema.
 *
 * The rules, and what Citus does when one is broken (measured on Citus 13.0.5, PostgreSQL 15, where noted):
 *   plan                 every table has a role here, and every planned table exists (a new table forces a decision)
 *   keys                 (a) a distributed table's primary key and every unique or exclusion constraint or unique
 *                        index has the distribution column as a key column (measured: refused otherwise)
 *   foreign-keys         (b) distributed -> distributed: co-located, with the distribution column paired with the
 *                        parent's at the same position; distributed -> reference is fine; reference -> reference
 *                        and local -> reference are fine; anything -> local from a Citus table, and
 *                        reference or local -> distributed, are refused
 *   policies             (c) a policy on a Citus table has no subquery, and calls no function that reads a table
 *                        (measured: policies with subqueries are refused; `workspace.current_user_id()`, which
 *                        reads workspace.users, fails at run time with "cannot execute a distributed query from a
 *                        query on a shard")
 *   trigger-reads        a trigger on a Citus table calls no function that reads a table (it runs on the shard:
 *                        the same run-time failure as above)
 *   triggers             (d) warning: every trigger on a Citus table needs citus.enable_unsafe_triggers
 *   column-grants        (e) no column-level privileges on a Citus table (measured: refused on distributed tables)
 *   distribution-column  (f) a distributed table has its distribution column, NOT NULL (Citus refuses a row with
 *                        a null distribution value), of the same type as the rest of its co-location group
 *   set-null             (g) no ON DELETE SET NULL / SET DEFAULT (nor ON UPDATE actions) on a foreign key that
 *                        carries, or will have to carry, the distribution column: Citus refuses them, PostgreSQL
 *                        15's column list (`SET NULL (col)`) included
 *   sequences            (h) warning: a sequence or identity column on a Citus table (bigint is fine: each node
 *                        draws from its own range; a smaller type can only be drawn on the coordinator)
 *
 * "Reads a table" is a heuristic over function bodies (sql and plpgsql), kept simple on purpose: after removing
 * comments and string literals, FROM or JOIN followed by a name that is not a function call (and not after
 * DISTINCT, nor NEW./OLD.), or a call to another of our functions that reads a table (transitively, by name).
 * Dynamic SQL (EXECUTE of a string) is not seen; `extract(field FROM column)` would be a false positive.
 * Subqueries are found exactly: the policy's expression tree holds a SubLink.
 */
import type pg from "pg";
import { type CheckResult, ours } from "./doctor";

type Queryable = pg.Pool | pg.ClientBase;

export type PlanEntry =
  { role: "distributed"; by: string; colocate: string; why: string } | { role: "reference"; why: string } | { role: "local"; why: string };

/** Planned roles by "schema.table". */
export type ShardPlan = Record<string, PlanEntry>;

const dist = (by: string, colocate: string, why: string): PlanEntry => ({ role: "distributed", by, colocate, why });
const ref = (why: string): PlanEntry => ({ role: "reference", why });

// Co-location groups: tables in one group are sharded by the same value, so their shards sit together.
const ENTITY = "screening entity";
const IDENTIFIER = "screening identifier";
const TENANT = "screening tenant";
const ORG = "workspace organisation";
const SUBJECT = "wills data subject";

/** The declared plan: one line per table, with why. */
export const SHARD_PLAN: ShardPlan = {
  "screening.tenants": ref("few customers; every tenant-owned row references it and every screening policy checks it"),
  "screening.entities": dist("entity_id", ENTITY, "shared identity across tenants: sharded by itself, its rows follow it"),
  "screening.entity_identifiers": dist("blind_index", IDENTIFIER, "the key that must stay unique platform-wide, and what lookups come by"),
  "screening.tenant_entities": dist("entity_id", ENTITY, "links are checked per entity (policies, FK): beside the entity"),
  "screening.entity_profiles": dist("entity_id", ENTITY, "a profile's history is read per entity: beside the entity"),
  "screening.entity_relations": dist("from_entity_id", ENTITY, "outbound edges beside their source entity, where graph walks start"),
  "screening.cached_data_sources": dist("entity_id", ENTITY, "provider data is looked up per entity and check type"),
  "screening.audit_events": dist("tenant_id", TENANT, "a tenant's trail is written and read per tenant"),
  "workspace.organizations": ref("the tenant row: every organisation-scoped row, roles and templates reference it"),
  "workspace.roles": ref("system roles (no organisation) are shared by all; read by every permission check"),
  "workspace.document_templates": ref("system templates are shared by all organisations; small"),
  "workspace.users": dist("organization_id", ORG, "members belong to one organisation"),
  "workspace.user_preferences": dist("organization_id", ORG, "a member's settings live with the member"),
  "workspace.sessions": dist("organization_id", ORG, "a member's sessions live with the member"),
  "workspace.memories": dist("organization_id", ORG, "searched per member, inside one organisation"),
  "workspace.conversations": dist("organization_id", ORG, "organisation-scoped"),
  "workspace.conversation_participants": dist("organization_id", ORG, "joined with its conversation"),
  "workspace.messages": dist("organization_id", ORG, "joined with its conversation"),
  "workspace.message_memory_usage": dist("organization_id", ORG, "joins a message with a memory of the same organisation"),
  "workspace.tasks": dist("organization_id", ORG, "organisation-scoped"),
  "workspace.integrations": dist("organization_id", ORG, "a member's integrations live with the member"),
  "workspace.gmail_messages": dist("organization_id", ORG, "synced rows live with their integration"),
  "workspace.calendar_events": dist("organization_id", ORG, "synced rows live with their integration"),
  "workspace.drive_files": dist("organization_id", ORG, "synced rows live with their integration"),
  "workspace.entities": dist("organization_id", ORG, "a member's knowledge graph lives with the member"),
  "workspace.entity_relationships": dist("organization_id", ORG, "edges live with their entities"),
  "workspace.entity_mentions": dist("organization_id", ORG, "mentions live with their entity"),
  "workspace.user_roles": dist("organization_id", ORG, "grants inside one organisation"),
  "workspace.audit_logs": dist("organization_id", ORG, "an organisation's trail is written and read per organisation"),
  "workspace.documents": dist("organization_id", ORG, "a member's documents live with the member"),
  "workspace.devices": dist("organization_id", ORG, "a member's devices live with the member"),
  "workspace.notifications": dist("organization_id", ORG, "a member's notifications live with the member"),
  "wills.consent_records": dist("data_subject_id", SUBJECT, "consent is granted, withdrawn and checked per data subject"),
  "wills.audit_logs": dist("data_subject_id", SUBJECT, "written in the same transaction as the subject's consent: one shard"),
  "wills.clauses": ref("the clause library: read by every will, changed rarely"),
  "wills.privacy_policy_versions": ref("a handful of published versions, read by every consent"),
};

export type RuleId =
  "plan" | "keys" | "foreign-keys" | "policies" | "trigger-reads" | "triggers" | "column-grants" | "distribution-column" | "set-null" | "sequences";

/** Each rule: its report name, why, and level (warnings do not make a table unready). */
export const SHARD_RULES: Record<RuleId, { name: string; why: string; level: "blocking" | "warning" }> = {
  plan: {
    name: "scale-out: every table has a planned role",
    why: "a new table must be decided (distributed by what, reference or local) in SHARD_PLAN, src/tools/shard-readiness.ts",
    level: "blocking",
  },
  keys: {
    name: "scale-out: keys of distributed tables include the distribution column",
    why: "each shard enforces uniqueness alone: Citus refuses a primary key, unique or exclusion constraint or unique index without it",
    level: "blocking",
  },
  "foreign-keys": {
    name: "scale-out: foreign keys stay on one shard",
    why: "Citus holds a key between distributed tables only when co-located and paired on the distribution column; to a reference table always; to or from local tables not",
    level: "blocking",
  },
  policies: {
    name: "scale-out: policies of Citus tables read no table",
    why: "policies with subqueries are refused, and a function reading a table fails on a shard (a distributed query from a query on a shard)",
    level: "blocking",
  },
  "trigger-reads": {
    name: "scale-out: triggers of Citus tables read no table",
    why: "a trigger runs on the shard, where reading another distributed table is a distributed query from a query on a shard",
    level: "blocking",
  },
  triggers: {
    name: "scale-out: triggers need citus.enable_unsafe_triggers (warning)",
    why: "Citus refuses triggers on its tables unless the flag is on; partition maintenance on distributed audit tables needs it too",
    level: "warning",
  },
  "column-grants": {
    name: "scale-out: no column-level privileges on Citus tables",
    why: "column-level grants were refused on distributed tables (Citus 13.0.5); grant the table and guard columns with a trigger or policy",
    level: "blocking",
  },
  "distribution-column": {
    name: "scale-out: distributed tables carry their distribution column, not null",
    why: "every row needs the value that places it on a shard; Citus refuses a null one; a co-location group shares one type",
    level: "blocking",
  },
  "set-null": {
    name: "scale-out: no set-null actions on keys that carry the distribution column",
    why: "Citus refuses ON DELETE SET NULL / SET DEFAULT (and ON UPDATE actions) when the key includes the distribution column, with or without a column list",
    level: "blocking",
  },
  sequences: {
    name: "scale-out: sequences on Citus tables (warning)",
    why: "bigint sequences work (each node draws from its own range); smaller types can only be drawn on the coordinator",
    level: "warning",
  },
};

const RULE_IDS = Object.keys(SHARD_RULES) as RuleId[];

export interface ShardFinding {
  rule: RuleId;
  /** "schema.table" the finding is about (for a foreign key: the referencing table). */
  table: string;
  detail: string;
}

export interface ShardSummary {
  /** Tables of ours (partitions not counted). */
  tables: number;
  /** Planned tables with no blocking finding: they would distribute (or replicate) as they are. */
  ready: number;
  /** Problems per blocking rule (the length of that rule's list). */
  breaking: Partial<Record<RuleId, number>>;
  /** Problems per warning rule. */
  warnings: Partial<Record<RuleId, number>>;
  /** Distinct tables each rule names. */
  tablesByRule: Partial<Record<RuleId, number>>;
}

export interface ShardReport {
  results: CheckResult[];
  findings: ShardFinding[];
  summary: ShardSummary;
}

export interface ShardOptions {
  /** The plan to check against (default SHARD_PLAN). */
  plan?: ShardPlan;
  /** Schemas to examine (default: every schema of ours, as make doctor scopes it). */
  schemas?: string[];
}

// Catalog queries: values only as bind parameters ($1: schemas, or the oids of the tables in scope).
const TABLES_SQL = `
  SELECT c.oid, n.nspname || '.' || c.relname AS name, c.relkind::text AS kind
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
     AND CASE WHEN $1::text[] IS NULL
              THEN ${ours("n.nspname")}
              ELSE n.nspname = ANY ($1::text[]) END
   ORDER BY 2`;

const COLUMNS_SQL = `
  SELECT a.attrelid AS rel, a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
         a.attacl IS NOT NULL AS column_acl,
         a.attidentity <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%', false) AS sequence
    FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attrelid = ANY ($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
   ORDER BY a.attrelid, a.attnum`;

const UNIQUE_SQL = `
  SELECT i.indrelid AS rel, ic.relname::text AS name, i.indisprimary AS is_primary, k.contype::text AS contype,
         ARRAY(SELECT a.attname::text FROM unnest((i.indkey::int2[])[0:i.indnkeyatts - 1]) x
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = x) AS cols,
         substring(pg_get_indexdef(i.indexrelid) FROM ' USING \\w+ (.*)$') AS def
    FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
    LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')
   WHERE i.indrelid = ANY ($1::oid[]) AND (i.indisunique OR i.indisexclusion)
   ORDER BY 2`;

const FKEYS_SQL = `
  SELECT k.conname::text AS name, cn.nspname || '.' || cc.relname AS child, pn.nspname || '.' || pc.relname AS parent,
         ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u (n, o)
                 JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.o) AS cols,
         ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u (n, o)
                 JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.o) AS ref_cols,
         k.confdeltype::text AS on_delete, k.confupdtype::text AS on_update
    FROM pg_constraint k
    JOIN pg_class cc ON cc.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
    JOIN pg_class pc ON pc.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
   WHERE k.contype = 'f' AND k.conparentid = 0 AND k.conrelid = ANY ($1::oid[])
   ORDER BY 2, 1`;

// A subquery anywhere in the policy leaves a SubLink node in its stored expression; the functions it calls are
// recorded as dependencies of the policy.
const POLICIES_SQL = `
  SELECT p.polrelid AS rel, p.polname::text AS name,
         coalesce(p.polqual::text, '') LIKE '%{SUBLINK %' OR coalesce(p.polwithcheck::text, '') LIKE '%{SUBLINK %' AS subquery,
         ARRAY(SELECT DISTINCT d.refobjid::text FROM pg_depend d
                WHERE d.classid = 'pg_policy'::regclass AND d.objid = p.oid AND d.refclassid = 'pg_proc'::regclass) AS functions
    FROM pg_policy p
   WHERE p.polrelid = ANY ($1::oid[])
   ORDER BY 2`;

const TRIGGERS_SQL = `
  SELECT t.tgrelid AS rel, t.tgname::text AS name, (t.tgtype::int & 1) = 1 AS row_level, t.tgfoid::text AS function
    FROM pg_trigger t
   WHERE t.tgrelid = ANY ($1::oid[]) AND NOT t.tgisinternal
   ORDER BY 2`;

const FUNCTIONS_SQL = `
  SELECT p.oid::text AS oid, n.nspname::text AS schema, p.proname::text AS name, p.prosrc AS src
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
   WHERE l.lanname IN ('sql', 'plpgsql') AND n.nspname NOT IN ('pg_catalog', 'information_schema')`;

interface Column {
  rel: number;
  name: string;
  type: string;
  not_null: boolean;
  column_acl: boolean;
  sequence: boolean;
}

const FK_ACTION: Record<string, string> = { n: "ON DELETE SET NULL", d: "ON DELETE SET DEFAULT" };
const FK_UPDATE_ACTION: Record<string, string> = { n: "ON UPDATE SET NULL", d: "ON UPDATE SET DEFAULT", c: "ON UPDATE CASCADE" };
const CONSTRAINT_KIND: Record<string, string> = { p: "primary key", u: "unique constraint", x: "exclusion constraint" };

/** Function bodies without comments and string literals, lower-cased. */
function stripBody(src: string): string {
  return src
    .replace(/\/\*[\s\S]*?\*\//g, " ")
    .replace(/--[^\n]*/g, " ")
    .replace(/'(?:[^']|'')*'/g, "''")
    .toLowerCase();
}

const READS_TABLE = /(?<!\bdistinct\s+)\b(?:from|join)\s+(?!(?:new|old)\.)(?:only\s+)?(?:"?[a-z_][\w$]*"?\.)?"?[a-z_][\w$]*"?(?![\w$."]|\s*\()/;
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Qualified names of the functions that read a table, by oid (directly, or through another of ours). */
function tableReaders(fns: { oid: string; schema: string; name: string; src: string }[]): Map<string, string> {
  const body = new Map(fns.map((f) => [f.oid, stripBody(f.src)]));
  const reads = new Set(fns.filter((f) => READS_TABLE.test(body.get(f.oid) ?? "")).map((f) => f.oid));
  const calls = new Map(fns.map((f) => [f.oid, new RegExp(`(?:\\b${escapeRe(f.schema)}\\.)?\\b${escapeRe(f.name)}\\s*\\(`)]));
  for (let changed = true; changed;) {
    changed = false;
    for (const f of fns) {
      if (reads.has(f.oid)) continue;
      const src = body.get(f.oid) ?? "";
      if (fns.some((g) => g.oid !== f.oid && reads.has(g.oid) && calls.get(g.oid)?.test(src))) {
        reads.add(f.oid);
        changed = true;
      }
    }
  }
  return new Map(fns.filter((f) => reads.has(f.oid)).map((f) => [f.oid, `${f.schema}.${f.name}`]));
}

/** Everything: the findings, one CheckResult per rule, and the summary. */
export async function shardReport(db: Queryable, { plan = SHARD_PLAN, schemas }: ShardOptions = {}): Promise<ShardReport> {
  const tables = (await db.query<{ oid: number; name: string; kind: string }>(TABLES_SQL, [schemas ?? null])).rows;
  const oids = tables.map((t) => t.oid);
  const nameOf = new Map(tables.map((t) => [t.oid, t.name]));
  const q = async <R extends pg.QueryResultRow>(sql: string) => (await db.query<R>(sql, [oids])).rows;
  const columns = await q<Column>(COLUMNS_SQL);
  const uniques = await q<{ rel: number; name: string; is_primary: boolean; contype: string | null; cols: string[]; def: string }>(UNIQUE_SQL);
  const fkeys = await q<{ name: string; child: string; parent: string; cols: string[]; ref_cols: string[]; on_delete: string; on_update: string }>(FKEYS_SQL);
  const policies = await q<{ rel: number; name: string; subquery: boolean; functions: string[] }>(POLICIES_SQL);
  const triggers = await q<{ rel: number; name: string; row_level: boolean; function: string }>(TRIGGERS_SQL);
  const functions = (await db.query<{ oid: string; schema: string; name: string; src: string }>(FUNCTIONS_SQL)).rows;
  const readers = tableReaders(functions);
  const fnName = new Map(functions.map((f) => [f.oid, `${f.schema}.${f.name}`]));

  const findings: ShardFinding[] = [];
  const add = (rule: RuleId, table: string, detail: string) => findings.push({ rule, table, detail });
  const roleOf = (rel: number) => plan[nameOf.get(rel) ?? ""];
  const isCitus = (e: PlanEntry | undefined) => e?.role === "distributed" || e?.role === "reference";
  const colsOf = (rel: number) => columns.filter((c) => c.rel === rel);

  // plan
  const inScope = (key: string) => (schemas ? schemas.includes(key.slice(0, key.indexOf("."))) : true);
  for (const t of tables) {
    const e = plan[t.name];
    if (!e) add("plan", t.name, "not in the plan: give it a role in SHARD_PLAN (src/tools/shard-readiness.ts)");
    else if (e.role === "reference" && t.kind === "p")
      add("plan", t.name, "planned as reference but partitioned: Citus reference tables cannot be partitioned");
  }
  for (const key of Object.keys(plan).filter(inScope)) {
    if (!tables.some((t) => t.name === key)) add("plan", key, "in the plan but not in the database: remove it from SHARD_PLAN");
  }

  // distribution-column (f), with the type each co-location group uses (its first table, by name, defines it)
  const groupType = new Map<string, { type: string; table: string }>();
  for (const t of tables) {
    const e = plan[t.name];
    if (e?.role !== "distributed") continue;
    const col = colsOf(t.oid).find((c) => c.name === e.by);
    if (!col) {
      add("distribution-column", t.name, `no column ${e.by}: every row must carry it to be placed with the rest of its ${e.colocate} group`);
      continue;
    }
    if (!col.not_null) add("distribution-column", t.name, `${e.by} is nullable: Citus refuses a row whose distribution column is null`);
    const g = groupType.get(e.colocate);
    if (!g) groupType.set(e.colocate, { type: col.type, table: t.name });
    else if (g.type !== col.type) add("distribution-column", t.name, `${e.by} is ${col.type}, but ${g.table} (same ${e.colocate} group) uses ${g.type}`);
  }

  // keys (a)
  for (const u of uniques) {
    const e = roleOf(u.rel);
    if (e?.role !== "distributed" || u.cols.includes(e.by)) continue;
    const kind = u.contype ? CONSTRAINT_KIND[u.contype] : "unique index";
    add("keys", nameOf.get(u.rel) ?? "", `${kind} ${u.name} ${u.def} lacks ${e.by}`);
  }

  // foreign-keys (b) and set-null (g)
  for (const k of fkeys) {
    const c = plan[k.child];
    const p = plan[k.parent];
    if (!c || !p) continue; // an unplanned table is reported by the plan rule
    const head = `${k.name} (${k.cols.join(", ")}) -> ${k.parent} (${k.ref_cols.join(", ")})`;
    let carries = false; // whether the key carries (or, to hold, must carry) the distribution column
    if (c.role === "distributed" && p.role === "distributed") {
      carries = true;
      const i = k.cols.indexOf(c.by);
      if (c.colocate !== p.colocate) add("foreign-keys", k.child, `${head}: not co-located (${c.colocate} and ${p.colocate} groups)`);
      else if (i < 0 || k.ref_cols[i] !== p.by) add("foreign-keys", k.child, `${head}: does not pair ${c.by} with ${k.parent}.${p.by}`);
    } else if (c.role === "distributed" && p.role === "reference") {
      carries = k.cols.includes(c.by);
    } else if (isCitus(c) && p.role === "local") {
      add("foreign-keys", k.child, `${head}: a ${c.role} table cannot reference a local one`);
    } else if (c.role === "reference" && p.role === "distributed") {
      add("foreign-keys", k.child, `${head}: a reference table references only reference tables`);
    } else if (c.role === "local" && p.role === "distributed") {
      add("foreign-keys", k.child, `${head}: a local table cannot reference a distributed one`);
    }
    if (carries && c.role === "distributed") {
      const actions = [FK_ACTION[k.on_delete], FK_UPDATE_ACTION[k.on_update]].filter((a): a is string => a !== undefined);
      for (const a of actions) add("set-null", k.child, `${head}: ${a}, refused once the key carries ${c.by}`);
    }
  }

  // policies (c)
  for (const pol of policies) {
    if (!isCitus(roleOf(pol.rel))) continue;
    const reading = [...new Set(pol.functions.map((f) => readers.get(f)).filter((f): f is string => f !== undefined))].sort();
    const reasons = [...(pol.subquery ? ["has a subquery"] : []), ...reading.map((f) => `calls ${f}(), which reads a table`)];
    if (reasons.length) add("policies", nameOf.get(pol.rel) ?? "", `policy ${pol.name} ${reasons.join("; ")}`);
  }

  // trigger-reads and triggers (d)
  for (const tr of triggers) {
    const e = roleOf(tr.rel);
    if (!isCitus(e)) continue;
    const table = nameOf.get(tr.rel) ?? "";
    const fn = fnName.get(tr.function) ?? tr.function;
    if (readers.has(tr.function)) add("trigger-reads", table, `trigger ${tr.name}: ${fn}() reads a table`);
    add(
      "triggers",
      table,
      tr.row_level
        ? `row trigger ${tr.name} (${fn}) needs citus.enable_unsafe_triggers`
        : `statement trigger ${tr.name} (${fn}): Citus propagates row triggers to shards; check on a cluster that this one still fires`,
    );
  }

  // column-grants (e) and sequences (h)
  for (const t of tables) {
    const e = plan[t.name];
    if (!isCitus(e)) continue;
    const cols = colsOf(t.oid);
    const granted = cols.filter((c) => c.column_acl).map((c) => c.name);
    if (granted.length) add("column-grants", t.name, `column-level privileges on ${granted.join(", ")}`);
    for (const c of cols.filter((x) => x.sequence)) {
      add(
        "sequences",
        t.name,
        c.type === "bigint"
          ? `${c.name} (bigint) draws from a sequence: fine, each node draws from its own range`
          : `${c.name} (${c.type}) draws from a sequence: only the coordinator can draw it; make it bigint`,
      );
    }
  }

  findings.sort((a, b) => (a.table === b.table ? a.detail.localeCompare(b.detail) : a.table.localeCompare(b.table)));
  const results: CheckResult[] = RULE_IDS.map((rule) => ({
    name: SHARD_RULES[rule].name,
    why: SHARD_RULES[rule].why,
    problems: findings.filter((f) => f.rule === rule).map((f) => `${f.table}: ${f.detail}`),
  }));
  const blocked = new Set(findings.filter((f) => SHARD_RULES[f.rule].level === "blocking").map((f) => f.table));
  const summary: ShardSummary = {
    tables: tables.length,
    ready: tables.filter((t) => plan[t.name] && !blocked.has(t.name)).length,
    breaking: {},
    warnings: {},
    tablesByRule: {},
  };
  for (const rule of RULE_IDS) {
    const mine = findings.filter((f) => f.rule === rule);
    (SHARD_RULES[rule].level === "blocking" ? summary.breaking : summary.warnings)[rule] = mine.length;
    summary.tablesByRule[rule] = new Set(mine.map((f) => f.table)).size;
  }
  return { results, findings, summary };
}

/** One CheckResult per rule (the doctor's shape); warning-level rules say "(warning)" in their name. */
export async function shardReadiness(db: Queryable, opts: ShardOptions = {}): Promise<CheckResult[]> {
  return (await shardReport(db, opts)).results;
}

/** The distance to sharding as numbers: tables, ready, problems per rule. */
export async function shardSummary(db: Queryable, opts: ShardOptions = {}): Promise<ShardSummary> {
  return (await shardReport(db, opts)).summary;
}

/** One paragraph for make doctor: the number to shrink, then the problems per rule. */
export function formatShardSummary(s: ShardSummary): string {
  const list = (r: Partial<Record<RuleId, number>>) =>
    Object.entries(r)
      .filter(([, n]) => n)
      .map(([rule, n]) => `${rule} ${n}`)
      .join(", ") || "none";
  return [
    `scale-out (docs/scale-out.md): ${s.ready} of ${s.tables} tables ready for their planned Citus role`,
    `  breaking: ${list(s.breaking)}`,
    `  warnings: ${list(s.warnings)}`,
  ].join("\n");
}
