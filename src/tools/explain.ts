/**
 * Plan checks for every named query (the seeds' "indexes verified with EXPLAIN ANALYZE", made permanent).
 *
 * `seedVolume` fills a migrated database with realistic volume; `explainAll` runs every query of every
 * generated module with representative parameters — SELECTs with EXPLAIN ANALYZE, writes with plain
 * EXPLAIN (never executed) — as the application role with a tenant set, where it has the privileges, else
 * as the connecting owner. A query whose plan sequentially scans a table above the size threshold is a
 * violation unless its SQL carries the annotation `-- explain: seq-scan-ok <why>`. The volume and the
 * parameter values come from each domain's src/<domain>/seed.ts (see ExplainSeed); this file names no table.
 */
import fs from "node:fs";
import path from "node:path";
import type pg from "pg";
import { APP_ROLE } from "../db/tx";
import { generatedModules } from "./generated";

export const SEQ_SCAN_ANNOTATION = /--\s*explain:\s*seq-scan-ok\b/;

/** Parameter values by parameter name. */
export type ExplainParams = Record<string, unknown>;

/** The first column of the first row `sql` returns (undefined when it returns none). */
export type FirstValue = (sql: string, params?: unknown[]) => Promise<unknown>;

/**
 * A domain's part of the plan checks: src/<domain>/seed.ts exports `explainSeed` of this shape (found by
 * scanning src/, like the generated modules), so each domain keeps its seed volume and its representative
 * parameter values next to its queries.
 */
export interface ExplainSeed {
  /** Domains seed, and their values are gathered, in ascending order. */
  order: number;
  /** Fill the domain's tables; `n` is the volume unit (20,000 at scale 1, at least 100). */
  seed(db: pg.Pool, n: number): Promise<void>;
  /**
   * Representative parameter values, read from the seeded database (after every domain has seeded).
   * `shared`: offered to the queries of every domain, so a query may use a value another domain's rows
   * supply; `own`: for this domain's queries (queries/<domain>/*.sql), over the shared ones; `files`: for
   * one file's queries (by file name, e.g. "bulk.sql"), where a name means something else there.
   */
  params(db: pg.Pool, one: FirstValue): Promise<{ shared?: ExplainParams; own?: ExplainParams; files?: Record<string, ExplainParams> }>;
}

const SRC = path.resolve(import.meta.dirname, "..");

/** Every src/<domain>/seed.ts's `explainSeed`, in seeding order. */
async function domainSeeds(): Promise<(ExplainSeed & { domain: string })[]> {
  const seeds: (ExplainSeed & { domain: string })[] = [];
  for (const d of fs.readdirSync(SRC, { withFileTypes: true })) {
    const file = path.join(SRC, d.name, "seed.ts");
    if (!d.isDirectory() || !fs.existsSync(file)) continue;
    const { explainSeed } = (await import(file)) as { explainSeed?: ExplainSeed };
    if (!explainSeed) throw new Error(`src/${d.name}/seed.ts does not export explainSeed`);
    seeds.push({ ...explainSeed, domain: d.name });
  }
  return seeds.sort((a, b) => a.order - b.order || a.domain.localeCompare(b.domain));
}

/**
 * Fill every domain's tables: `scale` 1 gives a volume unit of 20,000 (about 300,000 rows in all). With
 * `onError`, a domain whose seed fails is reported there and left as far as it got, and the others go on
 * (make rehearse seeds a schema older than the seed code, which may not fit it yet).
 */
export async function seedVolume(db: pg.Pool, scale = 1, onError?: (domain: string, e: Error) => void): Promise<void> {
  const n = Math.max(100, Math.round(20_000 * scale));
  for (const s of await domainSeeds()) {
    if (!onError) await s.seed(db, n);
    else await s.seed(db, n).catch((e: Error) => onError(s.domain, e));
  }
  await db.query("ANALYZE");
}

export interface PlanLine {
  query: string;
  file: string;
  mode: "analyze" | "estimate";
  scans: string[];
  indexes: string[];
  estimatedCost: number;
  actualMs: number | null;
  /** Sequential scans on tables above the threshold, without the annotation. */
  violations: string[];
  error?: string;
}

type Params = ExplainParams;

/** Representative values for the parameters of the queries in `file` (queries/<domain>/<name>.sql). */
async function representativeParams(db: pg.Pool): Promise<(file: string) => Params> {
  const one: FirstValue = async (sql, params = []) => Object.values((await db.query(sql, params)).rows[0] ?? {})[0];
  const shared: Params = {};
  const byDomain = new Map<string, { own?: Params; files?: Record<string, Params> }>();
  for (const s of await domainSeeds()) {
    const p = await s.params(db, one);
    Object.assign(shared, p.shared);
    byDomain.set(s.domain, p);
  }
  return (file) => {
    const [, domain = "", name = ""] = file.split("/");
    const d = byDomain.get(domain);
    return { ...shared, ...d?.own, ...d?.files?.[name] };
  };
}

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  Schema?: string;
  "Index Name"?: string;
  "Total Cost"?: number;
  "Actual Total Time"?: number;
  Plans?: PlanNode[];
}

function walk(node: PlanNode, visit: (n: PlanNode) => void) {
  visit(node);
  for (const child of node.Plans ?? []) walk(child, visit);
}

/** EXPLAIN every named query of every generated module. */
export async function explainAll(db: pg.Pool, opts: { threshold?: number } = {}): Promise<PlanLine[]> {
  const threshold = opts.threshold ?? 5_000;
  const params = await representativeParams(db);
  const sizes = new Map(
    (
      await db.query<{ t: string; n: number }>(
        "SELECT n.nspname || '.' || c.relname AS t, c.reltuples::bigint::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')",
      )
    ).rows.map((r) => [r.t, r.n]),
  );
  const out: PlanLine[] = [];
  for (const file of generatedModules()) {
    const mod = (await import(file.module)) as Record<string, unknown>;
    for (const [name, q] of Object.entries(mod)) {
      if (!q || typeof q !== "object" || !("run" in q)) continue;
      let captured: { text: string; values: unknown[] } | undefined;
      await (q as { run: (p: Params, c: unknown) => Promise<unknown> }).run(params(file.sql), {
        query: async (text: string, values: unknown[]) => {
          captured = { text, values };
          return { rows: [] };
        },
      });
      if (!captured) continue;
      const isRead =
        /^\s*(--[^\n]*\n\s*)*(SELECT|WITH RECURSIVE|WITH\s+\w+\s+AS\s*(NOT\s+)?(MATERIALIZED\s*)?\(\s*SELECT)/i.test(captured.text) &&
        !/\b(INSERT|UPDATE|DELETE)\b/i.test(captured.text);
      const line: PlanLine = {
        query: name,
        file: file.sql,
        mode: isRead ? "analyze" : "estimate",
        scans: [],
        indexes: [],
        estimatedCost: 0,
        actualMs: null,
        violations: [],
      };
      // VERBOSE: scan nodes then name their schema (screening.entities and workspace.entities differ in size).
      const explain = `EXPLAIN (${isRead ? "ANALYZE, " : ""}VERBOSE, FORMAT JSON) ${captured.text}`;
      const run = async (asApp: boolean) => {
        const c = await db.connect();
        try {
          await c.query("BEGIN");
          const p = params(file.sql);
          await c.query("SELECT set_config('app.tenant_id', $1, true), set_config('app.user_id', $2, true)", [String(p.tenantId), String(p.userId ?? "")]);
          if (asApp) await c.query("SELECT set_config('role', $1, true)", [APP_ROLE]);
          return (await c.query(explain, captured?.values)).rows[0]["QUERY PLAN"][0] as { Plan: PlanNode; "Execution Time"?: number };
        } finally {
          await c.query("ROLLBACK").catch(() => {});
          c.release();
        }
      };
      try {
        const plan = await run(true).catch((e) => ((e as { code?: string }).code === "42501" ? run(false) : Promise.reject(e)));
        line.estimatedCost = plan.Plan["Total Cost"] ?? 0;
        line.actualMs = plan["Execution Time"] ?? null;
        walk(plan.Plan, (n) => {
          if (/Scan/.test(n["Node Type"]) && n["Relation Name"]) line.scans.push(`${n["Node Type"]} ${n["Relation Name"]}`);
          if (n["Index Name"]) line.indexes.push(n["Index Name"]);
          if (
            n["Node Type"] === "Seq Scan" &&
            n["Relation Name"] &&
            (sizes.get(`${n.Schema}.${n["Relation Name"]}`) ?? 0) > threshold &&
            !SEQ_SCAN_ANNOTATION.test(captured?.text ?? "")
          ) {
            line.violations.push(`Seq Scan on ${n.Schema}.${n["Relation Name"]} (${sizes.get(`${n.Schema}.${n["Relation Name"]}`)} rows)`);
          }
        });
      } catch (e) {
        line.error = (e as Error).message;
      }
      out.push(line);
    }
  }
  return out;
}

export function formatPlanLine(l: PlanLine): string {
  const where = `${l.file.replace(/^queries\//, "")} ${l.query}`.padEnd(52);
  if (l.error) return `${where} ERROR ${l.error}`;
  const scans = [...new Set(l.scans)].join(", ") || "(no table scan)";
  const time = l.actualMs === null ? "not run (write)" : `${l.actualMs.toFixed(2)} ms`;
  return `${where} ${scans} | cost ${l.estimatedCost.toFixed(1)} | ${time}${l.violations.length ? `  <-- ${l.violations.join("; ")}` : ""}`;
}
