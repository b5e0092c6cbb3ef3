/**
 * Workload 5: audit append (events per second, one per transaction and in batches) and a one-month range
 * query pruned to its partition vs the same query over every partition.
 */
import crypto from "node:crypto";
import { listAuditEvents, recordAuditEvent } from "../src/screening";
import { recordEvent } from "../src/screening/context";
import { insertEntityCreatedEvents } from "../src/screening/queries/bulk.queries";
import { auditEventsInRange } from "../src/screening/queries/audit.queries";
import type { BenchContext } from "./context";
import { compare, progressLine, ratio, type ResultRow } from "./harness";
import { sqlOf } from "./w1-lookup";

export async function auditWorkload(b: BenchContext): Promise<ResultRow[]> {
  const W = "5 audit append + range";
  const p = progressLine(W);
  const SEQ = b.quick ? 5 : 50;
  const TX = b.quick ? 10 : 100;
  const STMT = b.quick ? 50 : 1000;

  const names = {
    one: `recordAuditEvent, 1 event per transaction (x${SEQ})`,
    tx: `${TX} events in one transaction (recordEvent each)`,
    stmt: `${STMT} events in one INSERT ... unnest`,
  };
  const ids = Array.from({ length: STMT }, () => crypto.randomUUID());
  const details = ids.map(() => JSON.stringify({ via: "bench" }));
  const append = await compare(
    [
      {
        name: names.one,
        fn: async () => {
          for (let i = 0; i < SEQ; i++)
            await recordAuditEvent(b.db, b.ctx, { eventType: "data_accessed", entityId: ids[i] as string, details: { via: "bench" } });
        },
      },
      {
        name: names.tx,
        fn: () =>
          b.db.tenant(b.ctx.tenantId, async (c) => {
            for (let i = 0; i < TX; i++) await recordEvent(c, b.db, b.ctx, "data_accessed", { entityId: ids[i] as string, details: { via: "bench" } });
          }),
      },
      {
        name: names.stmt,
        fn: () =>
          b.db.tenant(b.ctx.tenantId, (c) =>
            insertEntityCreatedEvents.run({ tenantId: b.ctx.tenantId, actorId: b.ctx.actorId, correlationId: b.ctx.correlationId, entityIds: ids, details }, c),
          ),
      },
    ],
    b.quick ? { rounds: 1, iterations: 1, time: 0, warmupIterations: 0 } : { rounds: 3, iterations: 5, time: 500, warmupIterations: 1 },
    p.update,
  );
  const perIter: Record<string, number> = { [names.one]: SEQ, [names.tx]: TX, [names.stmt]: STMT };
  const rate = (n: string) => (perIter[n] as number) / ((append.get(n)?.p50 ?? NaN) / 1000);

  // Range queries over a seeded trail spread across the provisioned months.
  const N = b.quick ? 2_000 : 200_000;
  p.update(`seeding ${N.toLocaleString("en-US")} audit events over 4 monthly partitions`);
  const now = new Date();
  const month = (k: number) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + k, 1));
  await b.plain.query(
    `INSERT INTO screening.audit_events (tenant_id, event_type, correlation_id, entity_id, created_at)
     SELECT $1, 'data_accessed', gen_random_uuid(), gen_random_uuid(),
            $2::timestamptz + ((g % 4) * interval '1 month') + (random() * interval '27 days')
       FROM generate_series(1, $3::int) g`,
    [b.ctx.tenantId, month(0), N],
  );
  await b.plain.query("ANALYZE screening.audit_events");
  const oneMonth = { from: month(1), to: month(2), limit: 1000 };
  const everything = { from: new Date("2000-01-01T00:00:00Z"), to: new Date("2100-01-01T00:00:00Z"), limit: 1000 };
  const partitionsScanned = async (range: typeof oneMonth) => {
    const { text, values } = await sqlOf(auditEventsInRange, { tenantId: b.ctx.tenantId, ...range });
    const plan = (await b.plain.query(`EXPLAIN (FORMAT JSON) ${text}`, values)).rows[0]["QUERY PLAN"];
    return new Set(JSON.stringify(plan).match(/audit_events_(p\d{4}_\d{2}|default)/g) ?? []).size;
  };
  const scanned = { month: await partitionsScanned(oneMonth), all: await partitionsScanned(everything) };
  const rangeNames = {
    month: `listAuditEvents, one month (${scanned.month} partition)`,
    all: `same query, all months (${scanned.all} partitions)`,
  };
  const range = await compare(
    [
      { name: rangeNames.month, fn: () => listAuditEvents(b.db, b.ctx, oneMonth) },
      { name: rangeNames.all, fn: () => listAuditEvents(b.db, b.ctx, everything) },
    ],
    b.quick ? { rounds: 1, iterations: 3, time: 0 } : { rounds: 3, iterations: 30, time: 500 },
    p.update,
  );
  p.done();
  const monthP50 = range.get(rangeNames.month)?.p50 ?? NaN;
  return [
    ...Object.values(names).map((n) => ({
      workload: W,
      contender: n,
      p50Ms: append.get(n)?.p50,
      p99Ms: append.get(n)?.p99,
      throughput: { value: rate(n), unit: "events/s" },
      ratios: { "x 1-per-tx events/s": ratio(rate(n), rate(names.one)) },
      note: `time per ${perIter[n]} events`,
    })),
    ...Object.values(rangeNames).map((n) => ({
      workload: W,
      contender: n,
      p50Ms: range.get(n)?.p50,
      p99Ms: range.get(n)?.p99,
      ratios: (n === rangeNames.all ? { "x one month": ratio(range.get(n)?.p50 ?? NaN, monthP50) } : {}) as Record<string, number>,
      note: `first 1,000 events of ${N.toLocaleString("en-US")}, tenant index per partition`,
    })),
  ];
}
