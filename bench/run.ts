/**
 * `make bench`: every workload of issue 8 in one run, on a fresh scratch database of the DATABASE_URL
 * server (the embedded engine works too, with a warning: its numbers say little about a server).
 * Prints a table and writes bench/results.json. `make bench quick=1` is a smoke run of a few iterations
 * (results go to a temporary file). BENCH_ONLY=1,2 runs only some workloads.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type BenchContext, openBench, type Workload } from "./context";
import { formatTable, type ResultRow } from "./harness";
import { lookupWorkload } from "./w1-lookup";
import { bulkWorkload } from "./w2-bulk";
import { profilesWorkload } from "./w3-profiles";
import { concurrencyWorkload } from "./w4-concurrency";
import { auditWorkload } from "./w5-audit";
import { semanticWorkload } from "./w6-semantic";
import { toolingWorkload } from "./w7-tooling";
import { latencyWorkload } from "./w8-latency";
import { replicasWorkload } from "./w9-replicas";

const ROOT = path.resolve(import.meta.dirname, "..");

/** Workload 6 needs workspace.memories (the workspace migration); without it the bench says so. */
const semanticIfPresent: Workload = async (b) => {
  const { rows } = await b.plain.query("SELECT to_regclass('workspace.memories') IS NOT NULL AS ok");
  if (rows[0]?.ok) return semanticWorkload(b);
  return [
    {
      workload: "6 semantic search top-10",
      contender: "TODO",
      note: "workspace.memories does not exist in this schema yet (workspace migration missing): not measured",
    },
  ];
};

const quickSkip =
  (name: string, w: Workload): Workload =>
  async (b) =>
    b.quick ? [{ workload: name, contender: "skipped", note: "quick run: spawns processes (make migrate / make gen, or its own servers)" }] : w(b);

export const WORKLOADS: Record<string, Workload> = {
  "1": lookupWorkload,
  "2": bulkWorkload,
  "3": profilesWorkload,
  "4": concurrencyWorkload,
  "5": auditWorkload,
  "6": semanticIfPresent,
  "7": quickSkip("7 make migrate / make gen", toolingWorkload),
  "8": latencyWorkload,
  "9": quickSkip("9 read replicas: read-mostly mix", replicasWorkload),
};

/** Run the selected workloads in order; a failing workload is reported and the others still run. */
export async function runWorkloads(b: BenchContext, only: string[] = Object.keys(WORKLOADS)): Promise<{ rows: ResultRow[]; failures: string[] }> {
  const rows: ResultRow[] = [];
  const failures: string[] = [];
  for (const id of only) {
    const w = WORKLOADS[id];
    if (!w) throw new Error(`unknown workload ${id} (have ${Object.keys(WORKLOADS).join(", ")})`);
    try {
      rows.push(...(await w(b)));
    } catch (e) {
      failures.push(`workload ${id}: ${(e as Error).stack ?? e}`);
      rows.push({ workload: id, contender: "FAILED", note: (e as Error).message });
    }
  }
  return { rows, failures };
}

async function main() {
  if (fs.existsSync(path.join(ROOT, ".env"))) process.loadEnvFile(path.join(ROOT, ".env"));
  const quick = ["1", "true", "yes"].includes(process.env.BENCH_QUICK ?? "");
  const only = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(",").map((s) => s.trim()) : undefined;
  const started = Date.now();
  const { b, close } = await openBench({ quick, poolSize: 20 });
  let out: { rows: ResultRow[]; failures: string[] };
  let server: string;
  try {
    server = (await b.plain.query("SELECT version() AS v")).rows[0].v as string;
    console.log(`pg-foundation bench${quick ? " (quick smoke run)" : ""}: ${b.kind} engine, ${server.split(" on ")[0]}`);
    if (b.kind !== "server") {
      console.warn(
        `\nWARNING: running on the EMBEDDED engine (PGlite, ${server.split(",")[0]}): one WebAssembly session shared by every connection,` +
          " no COPY FROM STDIN, no real concurrency. These numbers say nothing about a PostgreSQL server: set DATABASE_URL.\n",
      );
    }
    console.log(`${os.cpus().length} CPUs, node ${process.version}, pool ${b.poolSize} connections; a fresh scratch database, dropped afterwards\n`);
    out = await runWorkloads(b, only);
  } finally {
    await close();
  }
  console.log(`\n${formatTable(out.rows)}\n`);
  const file = quick ? path.join(os.tmpdir(), "pgf-bench-quick.json") : path.join(ROOT, "bench/results.json");
  fs.writeFileSync(
    file,
    `${JSON.stringify({ date: new Date().toISOString(), engine: b.kind, server, node: process.version, cpus: os.cpus().length, quick, poolSize: b.poolSize, seconds: (Date.now() - started) / 1000, rows: out.rows }, null, 2)}\n`,
  );
  console.log(`wrote ${path.relative(ROOT, file).startsWith("..") ? file : path.relative(ROOT, file)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  if (out.failures.length) {
    console.error(out.failures.join("\n\n"));
    process.exitCode = 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
