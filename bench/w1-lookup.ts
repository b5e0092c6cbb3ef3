/**
 * Workload 1: point lookup by primary key (screening.entities by entity_id), one caller, same SQL for
 * every contender. Seed target: under 5 ms.
 */
import { bulkCreateEntities } from "../src/screening/bulk";
import type { Db } from "../src/db/connect";
import { one } from "../src/db/rows";
import { getEntity, type RequestContext } from "../src/screening";
import { decodeEntity } from "../src/screening/entities";
import { entityById, entityRow } from "../src/screening/queries/entities.queries";
import type { BenchContext } from "./context";
import { compare, progressLine, ratio, type ResultRow } from "./harness";
import { builders } from "./orm";

/** The text and values pgtyped sends for a query, captured without a database. */
export async function sqlOf<P>(q: { run: (p: P, c: never) => Promise<unknown> }, params: P): Promise<{ text: string; values: unknown[] }> {
  let captured: { text: string; values: unknown[] } = { text: "", values: [] };
  const fake = { query: async (text: string, values: unknown[]) => ((captured = { text, values }), { rows: [] }) };
  await q.run(params, fake as never);
  return captured;
}

/**
 * getEntity's read without its data_accessed event (EntityById, decrypted), in a read-only tenant transaction
 * of one round trip: what the access record costs.
 */
export function readWithoutAccessEvent(db: Db, ctx: RequestContext, entityId: string) {
  return db.tenant(
    ctx.tenantId,
    async (c) => decodeEntity(db, await one(entityById, { tenantId: ctx.tenantId, entityId, includeDeleted: false }, c, "entity not found")),
    { readOnly: true, check: "screening.require_live_tenant()", oneStatement: true },
  );
}

/** Seed `n` entities (through the layer's bulk path) and return their ids; `tag` keeps workloads' passports apart. */
export async function seedEntities(b: BenchContext, n: number, tag = b.ctx.correlationId.slice(0, 8)): Promise<string[]> {
  const ids: string[] = [];
  for (let at = 0; at < n; at += 10_000) {
    const batch = Array.from({ length: Math.min(10_000, n - at) }, (_, i) => ({
      entityType: "individual" as const,
      identifiers: { passport: `P${(at + i).toString().padStart(9, "0")}-${tag}` },
    }));
    ids.push(...(await bulkCreateEntities(b.db, b.freshCtx(), { entities: batch })));
  }
  return ids;
}

export async function lookupWorkload(b: BenchContext): Promise<ResultRow[]> {
  const W = "1 point lookup by PK";
  const p = progressLine(W);
  p.update("seeding entities");
  const ids = await seedEntities(b, b.quick ? 200 : 10_000);
  let k = 0;
  const nextId = () => ids[k++ % ids.length] as string;
  const { text } = await sqlOf(entityRow, { entityId: ids[0] as string });
  const orm = builders(b.plain);

  const names = {
    plain: "plain pg, unnamed",
    plainNamed: "plain pg, named prepared",
    pgtypedPlain: "pgtyped query on plain pg",
    ours: "ours: pgtyped query via layer pool (named)",
    oursOff: "ours: same, DB_PREPARED_STATEMENTS=false",
    kysely: "Kysely",
    drizzle: "Drizzle",
    service: "ours: service getEntity (tenant tx, decrypt, access event)",
    serviceNoAudit: "ours: the same read without its access event",
    serviceOff: "ours: service getEntity, prepared off",
  };
  const tasks = [
    { name: names.plain, fn: () => b.plain.query(text, [nextId()]) },
    { name: names.plainNamed, fn: () => b.plain.query({ name: "bench_entity_by_id", text, values: [nextId()] }) },
    { name: names.pgtypedPlain, fn: () => entityRow.run({ entityId: nextId() }, b.plain) },
    { name: names.ours, fn: () => entityRow.run({ entityId: nextId() }, b.db.pool) },
    { name: names.oursOff, fn: () => entityRow.run({ entityId: nextId() }, b.dbUnnamed.pool) },
    { name: names.kysely, fn: () => orm.kyselyLookup(nextId()) },
    { name: names.drizzle, fn: () => orm.drizzleLookup(nextId()) },
    { name: names.service, fn: () => getEntity(b.db, b.ctx, { entityId: nextId() }) },
    // getEntity's own body in a read-only tenant transaction, without the data_accessed event: what the event costs.
    { name: names.serviceNoAudit, fn: () => readWithoutAccessEvent(b.db, b.ctx, nextId()) },
    { name: names.serviceOff, fn: () => getEntity(b.dbUnnamed, b.ctx, { entityId: nextId() }) },
  ];
  const m = await compare(tasks, b.quick ? { rounds: 1, iterations: 10, time: 0 } : { rounds: 5, iterations: 200, time: 400 }, p.update);
  p.done();
  const base = m.get(names.plain)?.p50 ?? NaN;
  const ky = m.get(names.kysely)?.p50 ?? NaN;
  const dr = m.get(names.drizzle)?.p50 ?? NaN;
  return tasks.map(({ name }) => {
    const r = m.get(name);
    const p50 = r?.p50 ?? NaN;
    const ours = name.startsWith("ours");
    return {
      workload: W,
      contender: name,
      p50Ms: p50,
      p99Ms: r?.p99,
      throughput: { value: 1000 / (r?.mean ?? NaN), unit: "lookups/s" },
      ratios: {
        "x plain pg": ratio(p50, base),
        ...(ours ? { "x Kysely": ratio(p50, ky), "x Drizzle": ratio(p50, dr) } : {}),
      },
      note:
        name === names.ours
          ? "goal <= 0.90x plain pg"
          : name === names.service
            ? "1 round trip: BEGIN with tenant context, SELECT writing its data_accessed event, COMMIT (a durable write)"
            : name === names.serviceNoAudit
              ? "1 round trip, read-only: BEGIN with tenant context, SELECT, COMMIT"
              : undefined,
    };
  });
}
