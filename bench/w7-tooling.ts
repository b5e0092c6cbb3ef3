/**
 * Workload 7: wall time of `make migrate` on an empty database and of `make gen`, on each engine, as a user
 * runs them (a new process: tsx start-up included). Both run against scratch places — a throwaway server
 * database, a temporary PGlite directory, a temporary copy of the repository for gen — never the user's.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createDatabase } from "../src/tools/databases";
import type { BenchContext } from "./context";
import { progressLine, type ResultRow } from "./harness";

const ROOT = path.resolve(import.meta.dirname, "..");

function timed(cwd: string, args: string[], env: Record<string, string>): Promise<{ ms: number; ok: boolean; tail: string }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(path.join(ROOT, "node_modules/.bin/tsx"), args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("exit", (code) => resolve({ ms: performance.now() - started, ok: code === 0, tail: out.trim().split("\n").slice(-1)[0] ?? "" }));
  });
}

/** A copy of what `make gen` reads and writes, with node_modules linked. */
function repoCopy(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgf-bench-gen-"));
  for (const f of ["src", "queries", "migrations", "docs", "pgtyped.config.json", "package.json", "tsconfig.json"]) {
    if (fs.existsSync(path.join(ROOT, f))) fs.cpSync(path.join(ROOT, f), path.join(dir, f), { recursive: true });
  }
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
  return dir;
}

export async function toolingWorkload(b: BenchContext): Promise<ResultRow[]> {
  const W = "7 make migrate / make gen";
  const p = progressLine(W);
  const rows: ResultRow[] = [];
  const add = (contender: string, r: { ms: number; ok: boolean; tail: string }, note: string) =>
    rows.push({ workload: W, contender, p50Ms: r.ms, note: r.ok ? note : `FAILED: ${r.tail}` });

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pgf-bench-migrate-"));
  try {
    p.update("make migrate, embedded (fresh PGlite directory)");
    add(
      "make migrate, embedded (empty)",
      await timed(ROOT, ["src/cli.ts", "migrate"], { DATABASE_URL: "", PGLITE_DATA_DIR: path.join(tmp, "pglite") }),
      "new PGlite data directory + every migration, one process",
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (b.adminUrl) {
    p.update("make migrate, server (empty database)");
    const scratch = await createDatabase(b.adminUrl);
    try {
      add(
        "make migrate, server (empty)",
        await timed(ROOT, ["src/cli.ts", "migrate"], { DATABASE_URL: scratch.url }),
        "empty database, every migration, one process",
      );
    } finally {
      await scratch.drop();
    }
  }
  const copy = repoCopy();
  try {
    p.update("make gen (pgtyped on a throwaway embedded database)");
    add("make gen, embedded", await timed(copy, ["src/cli.ts", "gen"], { DATABASE_URL: "" }), "pgtyped + ERD; run in a temporary copy of the repository");
    if (b.adminUrl) {
      p.update("make gen with DATABASE_URL (adds the pg_dump of docs/schema.sql)");
      add(
        "make gen, server (DATABASE_URL set)",
        await timed(copy, ["src/cli.ts", "gen"], { DATABASE_URL: b.adminUrl }),
        "as above + docs/schema.sql from a scratch server database",
      );
    }
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
  p.done();
  return rows;
}
