/**
 * Migrations: node-pg-migrate over plain SQL files in migrations/ (`-- Up Migration` / `-- Down Migration`).
 * All pending migrations run in ONE transaction (node-pg-migrate's default), so a failure half-way leaves
 * the schema exactly as it was; an advisory lock keeps two concurrent runs from both applying.
 *
 * Checksums (Flyway's idea, which node-pg-migrate lacks): every migration applied, reverted or accepted
 * after an edit leaves a row in `public.pgmigrations_checksums` with the sha256 of its file, who ran it and
 * when, written in the same transaction as node-pg-migrate's own `pgmigrations` row. Before running, `migrate`
 * refuses, naming the file, when an applied migration's file changed or vanished or a pending one sorts
 * before an applied one (`make doctor` reports the same). An accepted edit is recorded with
 * `make migrate-repair name=... reason="..."`. Applied migrations with no checksum yet (a database migrated
 * before checksums were kept) are adopted on the next run: their current files' checksums are recorded as
 * `adopted` (docs/dba.md says how a DBA confirms those were the files applied).
 *
 * The checksum is the sha256 of the file with CRLF line endings read as LF, and nothing else normalised: a
 * checkout on Windows (git autocrlf) changes no statement, but whitespace and comments can (inside a
 * function body or a string literal every byte counts), and a reviewer wants to hear about any edit.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PG_MIGRATE_LOCK_ID, runner } from "node-pg-migrate";
import pg from "pg";
import { ValidationError } from "../db/errors";

export const MIGRATIONS_DIR = path.resolve(import.meta.dirname, "../../migrations");
export const MIGRATIONS_TABLE = "pgmigrations";

export interface MigrateOptions {
  direction: "up" | "down";
  /** How many to run; default all pending for up, one for down. Infinity = all. */
  count?: number;
  /** Called with the name of each migration run. */
  onApplied?: (name: string, direction: "up" | "down") => void;
  /** Called with each checksum adopted for a migration applied before checksums were kept. */
  onAdopted?: (name: string) => void;
  /**
   * Called inside the migration's transaction after its statements ran and before it is marked as run,
   * on the migrating session (make rehearse reads the locks the migration holds here).
   */
  beforeMark?: (name: string, c: pg.ClientBase) => Promise<void>;
  /** Called with the migrating session once connected (make rehearse reads its backend pid). */
  onConnected?: (c: pg.ClientBase) => Promise<void>;
  dir?: string;
}

const quiet = { debug() {}, info() {}, warn: console.warn, error: console.error };

/** Refusal to migrate: an applied migration's file changed or vanished, or the order broke. */
export class MigrationIntegrityError extends Error {
  constructor(readonly problems: string[]) {
    super(`migrations refused:\n  ${problems.join("\n  ")}`);
    this.name = "MigrationIntegrityError";
  }
}

/** The migration files of `dir` (SQL, or TS/JS for non-transactional ones), sorted as node-pg-migrate runs them. */
export function migrationFiles(dir = MIGRATIONS_DIR): { name: string; file: string; sha256: string }[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /\.(sql|ts|js)$/.test(f))
    .sort()
    .map((file) => ({ name: file.replace(/\.(sql|ts|js)$/, ""), file, sha256: fileChecksum(path.join(dir, file)) }));
}

/** sha256 of a migration file, CRLF read as LF (see the header). */
export function fileChecksum(file: string): string {
  return crypto.createHash("sha256").update(fs.readFileSync(file, "utf8").replace(/\r\n/g, "\n")).digest("hex");
}

type Queryable = pg.Pool | pg.ClientBase;

const exists = async (db: Queryable, table: string) => (await db.query("SELECT to_regclass($1) IS NOT NULL AS ok", [table])).rows[0].ok as boolean;

/** Create the checksum table on first use (under the migration lock; once it exists, nothing runs and no lock is taken). */
async function ensureChecksumTable(c: pg.ClientBase): Promise<void> {
  if (!(await exists(c, "public.pgmigrations_checksums"))) await c.query(CHECKSUMS_DDL);
}

const CHECKSUMS_DDL = `
CREATE TABLE public.pgmigrations_checksums (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        varchar(255) NOT NULL,
  sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  event       text NOT NULL CHECK (event IN ('applied', 'reverted', 'adopted', 'repaired')),
  reason      text CHECK ((event = 'repaired') = (reason IS NOT NULL AND length(trim(reason)) > 0)),
  run_by      text NOT NULL,
  db_role     text NOT NULL DEFAULT session_user,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pgmigrations_checksums_name ON public.pgmigrations_checksums (name, id);
COMMENT ON TABLE public.pgmigrations_checksums IS 'Append-only log of migration file checksums (make migrate, make migrate-repair): the latest row of an applied migration is the checksum its file must still have.';
COMMENT ON COLUMN public.pgmigrations_checksums.event IS 'applied / reverted by make migrate(-down); adopted: recorded on the first run after checksums were introduced, for a migration applied before; repaired: an edit accepted with a reason.';
COMMENT ON COLUMN public.pgmigrations_checksums.run_by IS 'Operating-system user and host that ran the command.';`;

/** Who runs this command, as recorded with each checksum. */
const runBy = () => `${os.userInfo().username}@${os.hostname()}`;

export interface MigrationState {
  files: { name: string; file: string; sha256: string }[];
  /** Applied names in the order they ran. */
  applied: string[];
  /** The latest recorded checksum of each applied migration that has one. */
  recorded: Map<string, string>;
}

/** What the database says was applied and recorded, beside the files of `dir`. Reads only. */
export async function migrationState(db: Queryable, dir = MIGRATIONS_DIR): Promise<MigrationState> {
  const files = migrationFiles(dir);
  const has = (t: string) => exists(db, t);
  const applied = (await has("public.pgmigrations"))
    ? (await db.query<{ name: string }>("SELECT name FROM public.pgmigrations ORDER BY run_on, id")).rows.map((r) => r.name)
    : [];
  const recorded = new Map<string, string>();
  if (await has("public.pgmigrations_checksums")) {
    const { rows } = await db.query<{ name: string; sha256: string }>(
      "SELECT DISTINCT ON (name) name, sha256 FROM public.pgmigrations_checksums WHERE event <> 'reverted' ORDER BY name, id DESC",
    );
    for (const r of rows) if (applied.includes(r.name)) recorded.set(r.name, r.sha256);
  }
  return { files, applied, recorded };
}

/** Why migrations must not run: an applied file changed or vanished, or a pending one sorts before an applied one. */
export function integrityProblems(s: MigrationState): string[] {
  const { vanished, skipped } = historyGaps(s);
  const changed = s.files.filter((f) => s.applied.includes(f.name) && (s.recorded.get(f.name) ?? f.sha256) !== f.sha256);
  const last = s.applied
    .filter((a) => !vanished.includes(a))
    .sort()
    .at(-1);
  return [
    ...vanished.map(
      (name) => `${name}: applied, but its file is gone from migrations/ (restore it from version control; a migration is never deleted once applied)`,
    ),
    ...changed.map(
      (f) =>
        `migrations/${f.file} changed after it was applied (sha256 recorded ${s.recorded.get(f.name)?.slice(0, 12)}, file now ${f.sha256.slice(0, 12)}): undo the edit and write a new migration, or accept it with make migrate-repair name=${f.name} reason="..."`,
    ),
    ...skipped.map((f) => `migrations/${f.file} is pending but sorts before the applied ${last}: give it a later timestamp (make migration name=...)`),
  ];
}

/**
 * Where the applied history and migrations/ part ways (make migrate refuses, make drift cannot replay):
 * applied migrations whose file is gone, and files not applied that sort before the last applied one.
 */
export function historyGaps(s: Pick<MigrationState, "files" | "applied">): { vanished: string[]; skipped: MigrationState["files"] } {
  const names = new Set(s.files.map((f) => f.name));
  const vanished = s.applied.filter((a) => !names.has(a));
  const last = s.applied
    .filter((a) => names.has(a))
    .sort()
    .at(-1);
  const skipped = last ? s.files.filter((f) => f.name < last && !s.applied.includes(f.name)) : [];
  return { vanished, skipped };
}

/** Applied migrations whose checksum was never recorded (applied before checksums were kept). */
export const unrecorded = (s: MigrationState) => s.applied.filter((a) => !s.recorded.has(a) && s.files.some((f) => f.name === a));

/** node-pg-migrate's marker statements, which the recording client follows (see `migrate`). */
const MARK_RUN = /^INSERT INTO "public"\."pgmigrations" \(name, run_on\) VALUES \('([^']+)', NOW\(\)\);$/;
const MARK_REVERTED = /^DELETE FROM "public"\."pgmigrations" WHERE name='([^']+)';$/;

async function record(c: pg.ClientBase, name: string, sha256: string, event: string, reason: string | null = null) {
  await c.query("INSERT INTO public.pgmigrations_checksums (name, sha256, event, reason, run_by) VALUES ($1, $2, $3, $4, $5)", [
    name,
    sha256,
    event,
    reason,
    runBy(),
  ]);
}

/** Holds node-pg-migrate's advisory lock on `c` for `fn` (so checks, adoption and the run see one state). */
async function underLock<T>(c: pg.ClientBase, fn: () => Promise<T>): Promise<T> {
  const { rows } = await c.query("SELECT pg_try_advisory_lock($1) AS ok", [PG_MIGRATE_LOCK_ID]);
  if (!rows[0].ok) throw new Error("Another migration is already running (advisory lock held)");
  try {
    return await fn();
  } finally {
    await c.query("SELECT pg_advisory_unlock($1)", [PG_MIGRATE_LOCK_ID]).catch(() => {});
  }
}

/** Run migrations against `url`; returns the names run, in order. Refuses (MigrationIntegrityError) on the problems above. */
export async function migrate(url: string, opts: MigrateOptions): Promise<string[]> {
  const dir = opts.dir ?? MIGRATIONS_DIR;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await opts.onConnected?.(c);
    return await underLock(c, async () => {
      await ensureChecksumTable(c);
      const state = await migrationState(c, dir);
      const problems = integrityProblems(state);
      if (problems.length) throw new MigrationIntegrityError(problems);
      for (const name of unrecorded(state)) {
        await record(c, name, state.files.find((f) => f.name === name)?.sha256 as string, "adopted");
        opts.onAdopted?.(name);
      }
      const sums = new Map(state.files.map((f) => [f.name, f.sha256]));
      // node-pg-migrate marks each migration with its own INSERT (or DELETE, going down) into pgmigrations,
      // in the migration's transaction: the checksum row follows it there, so both land or neither does.
      // (Coupled to node-pg-migrate's marker text; test/core/checksums.test.ts fails if that text changes.)
      const recording = {
        async query(text: string | pg.QueryConfig, values?: unknown[]) {
          const sql = typeof text === "string" ? text : text.text;
          const up = MARK_RUN.exec(sql);
          const down = MARK_REVERTED.exec(sql);
          if (up && opts.beforeMark) await opts.beforeMark(up[1] as string, c);
          const result = await c.query(text as string, values);
          const name = up?.[1] ?? down?.[1];
          if (name) await record(c, name, sums.get(name) ?? "0".repeat(64), up ? "applied" : "reverted");
          return result;
        },
      } as unknown as pg.ClientBase;
      const run = await runner({
        dbClient: recording,
        dir,
        migrationsTable: MIGRATIONS_TABLE,
        direction: opts.direction,
        count: opts.count ?? (opts.direction === "up" ? Number.POSITIVE_INFINITY : 1),
        checkOrder: true,
        singleTransaction: true,
        noLock: true,
        logger: quiet,
      });
      for (const m of run) opts.onApplied?.(m.name, opts.direction);
      return run.map((m) => m.name);
    });
  } finally {
    await c.end();
  }
}

/**
 * Accept an edit to an applied migration: records the file's current checksum with the reason and who ran
 * it (`make migrate-repair name=... reason="..."`). The schema is not touched: the DBA states that the
 * database already matches the edited file (make drift checks that).
 */
export async function repairChecksum(url: string, name: string, reason: string, dir = MIGRATIONS_DIR): Promise<{ was: string | undefined; now: string }> {
  if (!reason?.trim()) throw new ValidationError('a repair needs a reason (reason="..."): it is kept with the checksum', ["reason"]);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await underLock(c, async () => {
      await ensureChecksumTable(c);
      const state = await migrationState(c, dir);
      const f = state.files.find((x) => x.name === name);
      if (!state.applied.includes(name)) throw new ValidationError(`${name} is not an applied migration`, ["name"]);
      if (!f) throw new ValidationError(`${name} has no file in migrations/: restore it first`, ["name"]);
      const was = state.recorded.get(name);
      if (was === f.sha256) throw new ValidationError(`migrations/${f.file} is unchanged: nothing to repair`, ["name"]);
      await record(c, name, f.sha256, "repaired", reason.trim());
      return { was, now: f.sha256 };
    });
  } finally {
    await c.end();
  }
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
