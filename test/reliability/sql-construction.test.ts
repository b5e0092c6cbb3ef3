/**
 * Issue 7, item 2 (part): no query is assembled from runtime strings. Every template literal in src/ that
 * looks like SQL is scanned; each interpolation must be on the reviewed list below (constants, quoted
 * identifiers, numbers, or SQL text that pgtyped produced from our own .sql files). Domain services must
 * contain no SQL text at all: they call generated queries. A new interpolation fails this test until it is
 * reviewed and listed with its reason.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const SQL = /\b(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|GRANT|REVOKE|TRUNCATE|EXPLAIN|BEGIN|WHERE|VALUES|ISOLATION|SET)\b/;

/** Reviewed interpolations: "file: ${expression}" -> why it is safe. */
const REVIEWED: Record<string, string> = {
  "src/tools/databases.ts: ${q(building)}": "identifier quoted by q() (doubles embedded quotes)",
  "src/tools/databases.ts: ${q(datname)}": "identifier quoted by q()",
  "src/tools/databases.ts: ${q(name)}": "identifier quoted by q()",
  'src/tools/databases.ts: ${q(template ?? "template0")}': "identifier quoted by q()",
  "src/tools/doctor.ts: ${OURS}": "module constant built from literals",
  "src/tools/erd.ts: ${OURS}": "module constant built from literals",
  "src/tools/explain.ts: ${captured.text}": "SQL text pgtyped generated from our own queries/*.sql (values stay bind parameters)",
  'src/tools/explain.ts: ${isRead ? "ANALYZE, " : ""}': "choice between two literals",
  "src/db/tx.ts: ${opts.isolation.toUpperCase()}": "a value of the Isolation union type (three literals)",
  'src/db/tx.ts: ${entries.map(([k, v]) => `set_config(${lit(k)}, ${lit(v)}, true)`).join(", ")}':
    "transaction-local settings sent with BEGIN: names are constants, values the role name and zod-validated UUIDs, each written by pg's escapeLiteral",
  "src/db/tx.ts: ${check}":
    "TxOptions.check, refused unless it matches CHECK_CALL (schema.function() of letters, digits and _): a constant of the calling domain",
  'src/tools/migrate.ts: ${name.replace(/_/g, " ")}': "text of a new migration file (not executed), name validated as snake_case",
  "src/tools/drift.ts: ${RELKIND}": "module constant built from literals",
  "src/tools/drift.ts: ${arr}": "argument of sorted(), called only with literal column expressions",
  'src/tools/drift.ts: ${calendar("c")}': "catalog predicate built from a literal alias",
  "src/tools/drift.ts: ${classid}": "argument of notExtension(), called only with literal catalog names",
  "src/tools/drift.ts: ${c}": "argument of calendar(), called only with a literal alias",
  'src/tools/drift.ts: ${notExtension("pg_class", "c.oid")}': "catalog predicate built from literals",
  'src/tools/drift.ts: ${notExtension("pg_namespace", "n.oid")}': "catalog predicate built from literals",
  'src/tools/drift.ts: ${notExtension("pg_proc", "p.oid")}': "catalog predicate built from literals",
  'src/tools/drift.ts: ${notExtension("pg_type", "co.contypid")}': "catalog predicate built from literals",
  'src/tools/drift.ts: ${notExtension("pg_type", "t.oid")}': "catalog predicate built from literals",
  "src/tools/drift.ts: ${oid}": "argument of notExtension(), called only with literal column names",
  'src/tools/drift.ts: ${ours("n.nspname")}': "catalog predicate built from literals",
  'src/tools/drift.ts: ${ours("schemaname")}': "catalog predicate built from literals",
  'src/tools/shard-readiness.ts: ${ours("n.nspname")}': "catalog predicate built from literals",
  'src/tools/drift.ts: ${sorted("c.reloptions")}': "expression built from literals",
  'src/tools/drift.ts: ${sorted("p.proconfig")}': "expression built from literals",
  'src/tools/drift.ts: ${sorted("roles::text[]")}': "expression built from literals",
  "src/tools/drift.ts: ${what}": "a drift message (words for the DBA), never executed",
  "src/tools/drift.ts: ${who}": "a drift message (words for the DBA), never executed",
  "src/tools/rehearse.ts: ${target.col}": "a column name from quote_ident() of pg_attribute, on a scratch database",
  "src/tools/rehearse.ts: ${t}": "a table name from regclass::text (quoted as needed by PostgreSQL), on a scratch database",
};

function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith(".ts") && !e.name.endsWith(".queries.ts") ? [path.join(dir, e.name)] : [],
    );
}

function sqlInterpolations(file: string): string[] {
  const rel = path.relative(ROOT, file);
  const sf = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (n: ts.Node) => {
    if (ts.isTemplateExpression(n)) {
      const text = n.head.text + n.templateSpans.map((s) => s.literal.text).join(" ");
      if (SQL.test(text)) for (const s of n.templateSpans) found.push(`${rel}: \${${s.expression.getText(sf)}}`);
    }
    if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.PlusToken) {
      const sides = [n.left, n.right].filter((x) => ts.isStringLiteralLike(x)).map((x) => (x as ts.StringLiteralLike).text);
      if (sides.some((t) => SQL.test(t))) found.push(`${rel}: + ${n.getText(sf)}`);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

describe("SQL is never assembled from runtime strings", () => {
  const all = sourceFiles(path.join(ROOT, "src")).flatMap(sqlInterpolations);

  it("every interpolation into SQL text is a reviewed, safe form", () => {
    expect(all.filter((x) => !(x in REVIEWED))).toEqual([]);
  });

  it("domain services contain no SQL text of their own beyond fixed statements", () => {
    expect(all.filter((x) => /^src\/(screening|wills|workspace|core)\//.test(x))).toEqual([]);
  });

  it("the reviewed list has no stale entries (so it cannot silently grow)", () => {
    expect(Object.keys(REVIEWED).filter((k) => !all.includes(k))).toEqual([]);
  });

  it("the scanner does catch an interpolation and a concatenation", () => {
    const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pgf-scan-")), "probe.ts");
    fs.writeFileSync(tmp, 'const id = "x"; export const a = `SELECT * FROM t WHERE id = ${id}`; export const b = "DELETE FROM t WHERE id = " + id;\n');
    try {
      expect(sqlInterpolations(tmp).map((x) => x.slice(x.indexOf("probe.ts: ") + 10))).toEqual(["${id}", '+ "DELETE FROM t WHERE id = " + id']);
    } finally {
      fs.rmSync(tmp);
    }
  });
});
