/**
 * Migrations: node-pg-migrate over plain SQL files in migrations/ (`-- Up Migration` / `-- Down Migration`).
 * All pending migrations run in ONE transaction (node-pg-migrate's default), so a failure half-way leaves
 * the schema exactly as it was; its advisory lock keeps two concurrent runs from both applying.
 */
import fs from "node:fs";
import path from "node:path";
import { runner } from "node-pg-migrate";
import { ValidationError } from "../db/errors";

export const MIGRATIONS_DIR = path.resolve(import.meta.dirname, "../../migrations");
export const MIGRATIONS_TABLE = "pgmigrations";

export interface MigrateOptions {
  direction: "up" | "down";
  /** How many to run; default all pending for up, one for down. Infinity = all. */
  count?: number;
  /** Called with the name of each migration run. */
  onApplied?: (name: string, direction: "up" | "down") => void;
  dir?: string;
}

const quiet = { debug() {}, info() {}, warn: console.warn, error: console.error };

/** Run migrations against `url`; returns the names run, in order. */
export async function migrate(url: string, opts: MigrateOptions): Promise<string[]> {
  const run = await runner({
    databaseUrl: url,
    dir: opts.dir ?? MIGRATIONS_DIR,
    migrationsTable: MIGRATIONS_TABLE,
    direction: opts.direction,
    count: opts.count ?? (opts.direction === "up" ? Number.POSITIVE_INFINITY : 1),
    checkOrder: true,
    singleTransaction: true,
    logger: quiet,
  });
  for (const m of run) opts.onApplied?.(m.name, opts.direction);
  return run.map((m) => m.name);
}

const TEMPLATE = (name: string) => `-- Migration: ${name.replace(/_/g, " ")}
--
-- What: <the tables, columns, functions or policies this adds or changes>
-- Why:  <the requirement or seed decision it implements>
-- Safety: <locks taken, table sizes affected, anything a DBA should check before it runs in production>

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';


-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

`;

/**
 * What `make lint` refuses in non-transactional (TypeScript/JavaScript) migrations, which squawk does not
 * read: a lock_timeout (or statement_timeout) set to anything but 0 in a migration that builds or drops an
 * index CONCURRENTLY. A concurrent build waits for every transaction older than itself; a short timeout
 * cancels it half-way and leaves an INVALID index behind (make doctor reports those). Returns one line per
 * offending file.
 */
export function lintConcurrentMigrations(dir = MIGRATIONS_DIR): string[] {
  const problems: string[] = [];
  for (const f of fs.readdirSync(dir).filter((x) => /\.(ts|js)$/.test(x))) {
    const text = fs.readFileSync(path.join(dir, f), "utf8");
    if (!/\bCONCURRENTLY\b/i.test(text)) continue;
    if (!/noTransaction\(\)/.test(text)) problems.push(`${f}: uses CONCURRENTLY without pgm.noTransaction() (it cannot run in a transaction)`);
    for (const m of text.matchAll(/\b(lock_timeout|statement_timeout)\s*(?:=|TO)\s*'?([^'";\s)]+)/gi)) {
      if (!/^0+(ms|s)?$/i.test(m[2] as string)) {
        problems.push(
          `${f}: sets ${m[1]} = ${m[2]} around CONCURRENTLY: a concurrent build waits for older transactions, a timeout cancels it and leaves an INVALID index (set it to 0)`,
        );
      }
    }
  }
  return problems;
}

/** Create migrations/<17-digit UTC timestamp>_<name>.sql from the template; returns its path. */
export function newMigration(name: string, dir = MIGRATIONS_DIR): string {
  if (!/^[a-z][a-z0-9_]{2,80}$/.test(name)) {
    throw new ValidationError("migration name must be snake_case: lower-case letters, digits and _ (3 to 81 chars)", ["name"]);
  }
  const stamp = new Date().toISOString().replace(/\D/g, ""); // yyyyMMddHHmmssSSS, read by node-pg-migrate as UTC
  const file = path.join(dir, `${stamp}_${name}.sql`);
  fs.writeFileSync(file, TEMPLATE(name), { flag: "wx" });
  return file;
}
