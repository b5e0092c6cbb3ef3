/**
 * Workload 4: 200 and 1,000 concurrent callers through one pool, a read-mostly mix (9 lookups by primary
 * key through the layer for every audited service write), for a fixed time each. Zero errors required.
 * Ceiling: pgbench -S (select-only, prepared) with as many connections as the pool, when pgbench is installed.
 * Issue 16: postgres.js with the same reads and writes, and the top level of the mix again through
 * bench/latency-proxy.ts (BENCH_LATENCY_MS each way, default 0.25) for ours, plain pg and postgres.js.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import pg from "pg";
import postgres from "postgres";
import { type Db, dbFor } from "../src/db/connect";
import { recordAuditEvent } from "../src/screening";
import { insertAuditEvent } from "../src/screening/queries/audit.queries";
import { entityRow } from "../src/screening/queries/entities.queries";
import { benchConfig, type BenchContext } from "./context";
import { startLatencyProxy } from "./latency-proxy";
import { progressLine, ratio, type ResultRow, summarise } from "./harness";
import { seedEntities, sqlOf } from "./w1-lookup";

export function pgbenchBinary(): string | undefined {
  const found = spawnSync("sh", ["-c", "command -v pgbench"], { encoding: "utf8" }).stdout.trim();
  if (found) return found;
  for (const v of ["18", "17", "16", "15"]) if (fs.existsSync(`/usr/lib/postgresql/${v}/bin/pgbench`)) return `/usr/lib/postgresql/${v}/bin/pgbench`;
  return undefined;
}

export async function concurrencyWorkload(b: BenchContext): Promise<ResultRow[]> {
  const W = "4 concurrent callers, read-mostly";
  const p = progressLine(W);
  const seconds = b.quick ? 0.5 : 5;
  // pglite-socket feeds PGlite one protocol message at a time from every connection, so concurrent queries
  // outside a transaction interleave and clobber each other's unnamed portal ('portal "" does not exist')
  // or stall: on the embedded engine this workload runs with one caller only.
  const embedded = b.kind !== "server";
  const levels = embedded ? [1] : b.quick ? [50] : [200, 1000];
  p.update("seeding entities");
  const ids = await seedEntities(b, b.quick ? 200 : 10_000);
  const { text } = await sqlOf(entityRow, { entityId: ids[0] as string });
  const auditSql = (await sqlOf(insertAuditEvent, {} as never)).text;
  const pick = () => ids[Math.floor(Math.random() * ids.length)] as string;

  interface Ops {
    read: () => Promise<unknown>;
    write: () => Promise<unknown>;
  }
  const oursOn = (db: Db): Ops => ({
    read: () => entityRow.run({ entityId: pick() }, db.pool),
    write: () => recordAuditEvent(db, b.ctx, { eventType: "data_accessed", entityId: pick(), details: { via: "bench" } }),
  });
  const plainOn = (pool: pg.Pool): Ops => ({
    read: () => pool.query(text, [pick()]),
    write: async () => {
      const c = await pool.connect();
      try {
        await c.query("BEGIN");
        await c.query("SELECT set_config('role', 'app', true), set_config('app.tenant_id', $1, true)", [b.ctx.tenantId]);
        await c.query(auditSql, [b.ctx.tenantId, b.ctx.actorId, "data_accessed", b.ctx.correlationId, pick(), JSON.stringify({ via: "bench" }), null]);
        await c.query("COMMIT");
      } catch (e) {
        await c.query("ROLLBACK").catch(() => {});
        throw e;
      } finally {
        c.release();
      }
    },
  });
  // postgres.js (issue 16): the same reads and writes through its own pool of the same size.
  const pjsOn = (pjs: postgres.Sql): Ops => ({
    read: () => pjs.unsafe(text, [pick()]),
    write: () =>
      pjs.begin((sql) => [
        sql`SELECT set_config('role', 'app', true), set_config('app.tenant_id', ${b.ctx.tenantId}, true)`,
        sql.unsafe(auditSql, [b.ctx.tenantId, b.ctx.actorId, "data_accessed", b.ctx.correlationId, pick(), { via: "bench" }, null]),
      ]),
  });
  const newPostgresJs = (url: string) => postgres(url, { max: b.poolSize, prepare: true, onnotice: () => {} });
  const ours = oursOn(b.db);
  const plain = plainOn(b.plain);
  const pjs = newPostgresJs(b.engine.url);
  const viaPostgresJs = pjsOn(pjs);

  const run = async (label: string, callers: number, ops: Ops) => {
    const latencies: number[] = [];
    let errors = 0;
    let firstError: string | undefined;
    const deadline = performance.now() + seconds * 1000;
    const started = performance.now();
    const ticker = setInterval(() => p.update(`${label}, ${callers} callers: ${latencies.length} ops`), 1000);
    await Promise.all(
      Array.from({ length: callers }, async (_, i) => {
        let n = i;
        while (performance.now() < deadline) {
          const t0 = performance.now();
          try {
            await (n++ % 10 === 9 ? ops.write() : ops.read());
            latencies.push(performance.now() - t0);
          } catch (e) {
            errors++;
            firstError ??= (e as Error).message;
          }
        }
      }),
    );
    clearInterval(ticker);
    const wall = performance.now() - started;
    return { ...summarise(label, latencies), opsPerSec: (latencies.length / wall) * 1000, errors, firstError };
  };

  type Run = Awaited<ReturnType<typeof run>>;
  const results: { contender: string; r: Run; mix: boolean; base?: Run; goal?: boolean }[] = [];
  const top = levels[levels.length - 1] as number;
  const oursRuns: Run[] = [];
  for (const callers of levels) oursRuns.push(await run("ours", callers, ours));
  const plainMix = await run("plain pg", top, plain);
  levels.forEach((callers, i) =>
    results.push({
      contender: `ours: layer pool (${b.poolSize} conns), ${callers} callers`,
      r: oursRuns[i] as Run,
      mix: true,
      base: callers === top ? plainMix : undefined,
    }),
  );
  results.push({ contender: `plain pg pool (${b.poolSize} conns), ${top} callers`, r: plainMix, mix: true });
  if (!embedded)
    results.push({
      contender: `postgres.js (${b.poolSize} conns), ${top} callers`,
      r: await run("postgres.js", top, viaPostgresJs),
      mix: true,
      base: plainMix,
    });
  // Lookups only: the same work as pgbench -S, for the ratio to the ceiling.
  const readsOnly = (o: Ops): Ops => ({ read: o.read, write: o.read });
  const oursReads = await run("ours, lookups only", top, readsOnly(ours));
  const plainReads = await run("plain pg, lookups only", top, readsOnly(plain));
  results.push({ contender: `ours: lookups only, ${top} callers`, r: oursReads, mix: false, base: plainReads, goal: true });
  results.push({ contender: `plain pg: lookups only, ${top} callers`, r: plainReads, mix: false });
  if (!embedded)
    results.push({
      contender: `postgres.js: lookups only, ${top} callers`,
      r: await run("postgres.js, lookups only", top, readsOnly(viaPostgresJs)),
      mix: false,
      base: plainReads,
    });
  await pjs.end();

  // The same mix through a proxy adding BENCH_LATENCY_MS (default 0.25) each way: what round trips cost
  // when the database is on another host.
  if (!embedded) {
    const delayMs = Number(process.env.BENCH_LATENCY_MS ?? 0.25);
    const tag = `+${delayMs} ms each way`;
    const proxy = await startLatencyProxy(b.engine.url, delayMs);
    const dbP = dbFor({ ...b.engine, url: proxy.url, async stop() {} }, { ...benchConfig(proxy.url, b.poolSize), keys: b.db.config.keys });
    const plainP = new pg.Pool({ connectionString: proxy.url, max: b.poolSize });
    plainP.on("error", () => {});
    const pjsP = newPostgresJs(proxy.url);
    try {
      const o = await run(`ours, ${tag}`, top, oursOn(dbP));
      const pl = await run(`plain pg, ${tag}`, top, plainOn(plainP));
      const pj = await run(`postgres.js, ${tag}`, top, pjsOn(pjsP));
      results.push({ contender: `ours: layer pool (${b.poolSize} conns), ${top} callers, ${tag}`, r: o, mix: true, base: pl });
      results.push({ contender: `plain pg pool (${b.poolSize} conns), ${top} callers, ${tag}`, r: pl, mix: true });
      results.push({ contender: `postgres.js (${b.poolSize} conns), ${top} callers, ${tag}`, r: pj, mix: true, base: pl });
    } finally {
      await plainP.end();
      await pjsP.end();
      await dbP.pool.end();
      await proxy.close();
    }
  }

  let ceiling: number | undefined;
  let ceilingNote = "";
  const bin = b.kind === "server" ? pgbenchBinary() : undefined;
  if (bin && !b.quick) {
    p.update("pgbench -i (scale 1) and -S");
    const url = b.engine.url;
    const init = spawnSync(bin, ["-i", "-s", "1", "-q", "-n", url], { encoding: "utf8" });
    const sel =
      init.status === 0
        ? spawnSync(bin, ["-n", "-S", "-M", "prepared", "-c", String(b.poolSize), "-j", "2", "-T", String(seconds), url], { encoding: "utf8" })
        : init;
    const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(sel.stdout ?? "");
    if (tps) ceiling = Number(tps[1]);
    else ceilingNote = `pgbench failed: ${(sel.stderr || sel.stdout || "").trim().split("\n").slice(-1)[0]}`;
  } else {
    ceilingNote =
      b.kind !== "server"
        ? "embedded engine: no pgbench"
        : b.quick
          ? "quick run: pgbench skipped"
          : "pgbench not installed (Debian postgresql-contrib / postgresql-client)";
  }
  p.done();

  const rows: ResultRow[] = results.map(({ contender, r, mix, base, goal }) => ({
    workload: W,
    contender,
    p50Ms: r.p50,
    p99Ms: r.p99,
    throughput: { value: r.opsPerSec, unit: "ops/s" },
    ratios: {
      ...(base ? { "x plain pg ops/s": ratio(r.opsPerSec, base.opsPerSec) } : {}),
      ...(ceiling && (base || contender.startsWith("plain")) ? { "x pgbench ops/s": ratio(r.opsPerSec, ceiling) } : {}),
    },
    errors: r.errors,
    note: [
      `${seconds} s`,
      mix ? "90% lookups, 10% audited writes" : "lookups by primary key only (as pgbench -S)",
      embedded ? "embedded engine: 1 caller (see w4-concurrency.ts)" : "",
      goal && ceiling ? "goal >= 0.5x pgbench" : "",
      r.firstError ? `first error: ${r.firstError}` : "",
    ]
      .filter(Boolean)
      .join("; "),
  }));
  rows.push({
    workload: W,
    contender: `pgbench -S -M prepared, ${b.poolSize} conns (ceiling)`,
    throughput: ceiling ? { value: ceiling, unit: "ops/s" } : undefined,
    note: ceiling ? `select-only by primary key, ${seconds} s` : ceilingNote,
  });
  return rows;
}
