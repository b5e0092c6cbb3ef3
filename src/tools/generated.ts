/** Where generated pgtyped modules live: src/<domain>/queries/<topic>.queries.ts from queries/<domain>/<topic>.sql. */
import fs from "node:fs";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");

export interface GeneratedModule {
  /** Absolute path of the generated module. */
  module: string;
  /** The .sql file it was generated from, relative to the repository root. */
  sql: string;
}

export function generatedModules(): GeneratedModule[] {
  const src = path.join(ROOT, "src");
  return fs
    .readdirSync(src, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(src, d.name, "queries")))
    .flatMap((d) =>
      fs
        .readdirSync(path.join(src, d.name, "queries"))
        .filter((f) => f.endsWith(".queries.ts"))
        .map((f) => ({ module: path.join(src, d.name, "queries", f), sql: `queries/${d.name}/${f.replace(".queries.ts", ".sql")}` })),
    )
    .sort((a, b) => a.module.localeCompare(b.module));
}
