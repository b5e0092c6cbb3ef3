/**
 * Workload 8: what a service call pays in round trips, on loopback and through a proxy adding
 * BENCH_LATENCY_MS (default 0.25) each way, side by side in one run. The same point lookup as workload 1:
 *   - plain pg: the SELECT alone, no transaction (the floor: one round trip);
 *   - ours, getEntity: the tenant transaction whose one statement reads the entity and writes its
 *     data_accessed event (a data-modifying CTE), BEGIN + context + check + statement + COMMIT pipelined:
 *     one round trip, and a durable commit;
 *   - ours, the same read without its access event (read-only: one round trip, no WAL flush);
 *   - ours, getEntity with DB_PIPELINE=false (three round trips: BEGIN message, statement, COMMIT);
 *   - postgres.js, the same transaction as getEntity (BEGIN, context, check, SELECT, INSERT event, COMMIT),
 *     its statements handed to `sql.begin` together (postgres.js pipelines what is issued without waiting).
 *     It writes the event whether or not the SELECT found a row.
 * Goals (issue 16): through the proxy, getEntity <= 1.15x plain pg and no slower than postgres.js; on
 * loopback <= 1.5x plain pg.
 */
import pg from "pg";
import postgres from "postgres";
import { dbFor } from "../src/db/connect";
import { getEntity } from "../src/screening";
import { insertAuditEvent } from "../src/screening/queries/audit.queries";
import { entityRow } from "../src/screening/queries/entities.queries";
import { benchConfig, type BenchContext } from "./context";
import { compare, progressLine, ratio, type ResultRow } from "./harness";
import { startLatencyProxy } from "./latency-proxy";
import { readWithoutAccessEvent, seedEntities, sqlOf } from "./w1-lookup";

export async function latencyWorkload(b: BenchContext): Promise<ResultRow[]> {
  const W = "8 round trips: loopback vs added latency";
  if (b.kind !== "server") return [{ workload: W, contender: "skipped", note: "server engine only: the embedded engine runs in-process" }];
  const delayMs = Number(process.env.BENCH_LATENCY_MS ?? 0.25);
  const p = progressLine(W);
  p.update("seeding entities");
  const ids = await seedEntities(b, b.quick ? 200 : 5_000, "w8");
  let k = 0;
  const nextId = () => ids[k++ % ids.length] as string;
  const select = (await sqlOf(entityRow, { entityId: ids[0] as string })).text;
  const insert = (
    await sqlOf(insertAuditEvent, {
      tenantId: b.ctx.tenantId,
      actorId: b.ctx.actorId,
      eventType: "data_accessed",
      correlationId: b.ctx.correlationId,
      entityId: ids[0] as string,
      details: "{}",
      sensitiveDetails: null,
    })
  ).text;
  const proxy = await startLatencyProxy(b.engine.url, delayMs);
  const rows: ResultRow[] = [];
  try {
    for (const [path, url] of [
      ["loopback", b.engine.url],
      [`+${delayMs} ms each way`, proxy.url],
    ] as const) {
      const engine = { ...b.engine, url, async stop() {} };
      const cfg = benchConfig(url, b.poolSize);
      // Same keys as the bench's own Db, so entities written by the seed decrypt.
      const keys = b.db.config.keys;
      const db = dbFor(engine, { ...cfg, keys });
      const dbUnpiped = dbFor(engine, { ...cfg, keys, pipeline: false });
      const plain = new pg.Pool({ connectionString: url, max: b.poolSize });
      const pjs = postgres(url, { max: b.poolSize, prepare: true, onnotice: () => {} });
      const names = {
        plain: `plain pg lookup (${path})`,
        service: `ours: getEntity, pipelined (${path})`,
        read: `ours: the same read without its access event (${path})`,
        unpiped: `ours: getEntity, DB_PIPELINE=false (${path})`,
        pjs: `postgres.js: getEntity's transaction, pipelined (${path})`,
      };
      const ctx = b.ctx;
      const tasks = [
        { name: names.plain, fn: () => plain.query(select, [nextId()]) },
        { name: names.service, fn: () => getEntity(db, ctx, { entityId: nextId() }) },
        { name: names.read, fn: () => readWithoutAccessEvent(db, ctx, nextId()) },
        { name: names.unpiped, fn: () => getEntity(dbUnpiped, ctx, { entityId: nextId() }) },
        {
          name: names.pjs,
          fn: () => {
            const id = nextId();
            return pjs.begin((sql) => [
              sql`SELECT set_config('role', 'app', true), set_config('app.tenant_id', ${ctx.tenantId}, true), set_config('app.user_id', '', true)`,
              sql`SELECT screening.require_live_tenant()`,
              sql.unsafe(select, [id]),
              sql.unsafe(insert, [ctx.tenantId, ctx.actorId, "data_accessed", ctx.correlationId, id, { operation: "screening.entity.get" }, null]),
            ]);
          },
        },
      ];
      const m = await compare(tasks, b.quick ? { rounds: 1, iterations: 10, time: 0 } : { rounds: 5, iterations: 200, time: 400 }, (s) =>
        p.update(`${path}: ${s}`),
      );
      await plain.end();
      await pjs.end();
      await db.pool.end();
      await dbUnpiped.pool.end();
      const base = m.get(names.plain)?.p50 ?? NaN;
      const pj = m.get(names.pjs)?.p50 ?? NaN;
      for (const { name } of tasks) {
        const r = m.get(name);
        const p50 = r?.p50 ?? NaN;
        rows.push({
          workload: W,
          contender: name,
          p50Ms: p50,
          p99Ms: r?.p99,
          throughput: { value: 1000 / (r?.mean ?? NaN), unit: "calls/s" },
          ratios: { "x plain pg": ratio(p50, base), "x postgres.js": ratio(p50, pj) },
          note:
            name === names.service
              ? `1 round trip; goal ${path === "loopback" ? "<= 1.5x" : "<= 1.15x"} plain pg${path === "loopback" ? "" : ", <= 1x postgres.js"}`
              : name === names.read
                ? "1 round trip, read-only"
                : name === names.unpiped
                  ? "3 round trips"
                  : undefined,
        });
      }
    }
  } finally {
    p.done();
    await proxy.close();
  }
  return rows;
}
