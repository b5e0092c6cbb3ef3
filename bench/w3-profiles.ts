/**
 * Workload 3: profile version append (row lock on the entity, latest version, delta, insert, audit event)
 * and lookup of the latest version, 16 concurrent writers, each on its own entity.
 */
import { createEntity, createProfileVersion, latestProfile as latestProfileOp } from "../src/screening";
import { sqlOf } from "./w1-lookup";
import type { BenchContext } from "./context";
import { progressLine, ratio, type ResultRow, summarise } from "./harness";
import { insertAuditEvent } from "../src/screening/queries/audit.queries";
import { insertProfile, latestProfile } from "../src/screening/queries/profiles.queries";
import { lockEntity } from "../src/screening/queries/entities.queries";

const WRITERS = 16;

export async function profilesWorkload(b: BenchContext): Promise<ResultRow[]> {
  const W = "3 profile append + latest, 16 writers";
  const p = progressLine(W);
  const perWriter = b.quick ? 3 : 40;
  const entities = await Promise.all(Array.from({ length: WRITERS }, () => createEntity(b.db, b.ctx, { entityType: "organization" })));
  const findings = (v: number) => Array.from({ length: 5 }, (_, i) => ({ id: `f${(v + i) % 7}`, severity: i % 3, source: "bureau" }));

  // Hand-written plain pg doing the same statements (same SQL text as the generated queries).
  const lockSql = (await sqlOf(lockEntity, { tenantId: "x", entityId: "x" })).text;
  const latestSql = (await sqlOf(latestProfile, { tenantId: "x", entityId: "x" })).text;
  const insertSql = (await sqlOf(insertProfile, {} as never)).text;
  const auditSql = (await sqlOf(insertAuditEvent, {} as never)).text;
  const plainAppend = async (entityId: string, v: number) => {
    const c = await b.plain.connect();
    try {
      await c.query("BEGIN");
      await c.query("SELECT set_config('role', 'app', true), set_config('app.tenant_id', $1, true)", [b.ctx.tenantId]);
      await c.query(lockSql, [b.ctx.tenantId, entityId]);
      const prev = (await c.query(latestSql, [b.ctx.tenantId, entityId])).rows[0];
      const version = prev ? prev.version + 1 : 1;
      await c.query(insertSql, [
        b.ctx.tenantId,
        entityId,
        version,
        prev ? prev.version : null,
        "screening",
        null,
        JSON.stringify(findings(v)),
        JSON.stringify({ score: v % 100 }),
        "[]",
        0,
        "[]",
        "[]",
        null,
        "{}",
      ]);
      await c.query(auditSql, [b.ctx.tenantId, null, "profile_created", b.ctx.correlationId, entityId, JSON.stringify({ version }), null]);
      await c.query("COMMIT");
    } catch (e) {
      await c.query("ROLLBACK").catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  };
  const plainLatest = async (entityId: string) => {
    const c = await b.plain.connect();
    try {
      await c.query("BEGIN READ ONLY");
      await c.query("SELECT set_config('role', 'app', true), set_config('app.tenant_id', $1, true)", [b.ctx.tenantId]);
      const r = (await c.query(latestSql, [b.ctx.tenantId, entityId])).rows[0];
      await c.query("COMMIT");
      return r;
    } finally {
      c.release();
    }
  };

  const run = async (label: string, append: (id: string, v: number) => Promise<unknown>, latest: (id: string) => Promise<unknown>) => {
    const appends: number[] = [];
    const lookups: number[] = [];
    let errors = 0;
    let done = 0;
    const started = performance.now();
    await Promise.all(
      entities.map(async (e) => {
        for (let v = 0; v < perWriter; v++) {
          try {
            const t0 = performance.now();
            await append(e.entity_id, v);
            const t1 = performance.now();
            await latest(e.entity_id);
            lookups.push(performance.now() - t1);
            appends.push(t1 - t0);
          } catch {
            errors++;
          }
          if (++done % 50 === 0) p.update(`${label}: ${done}/${WRITERS * perWriter}`);
        }
      }),
    );
    return { wall: performance.now() - started, appends: summarise("append", appends), lookups: summarise("latest", lookups), errors };
  };

  const ours = await run(
    "ours",
    (id, v) => createProfileVersion(b.db, b.ctx, { entityId: id, triggerType: "screening", findings: findings(v), riskScore: { score: v % 100 } }),
    (id) => latestProfileOp(b.db, b.ctx, { entityId: id }),
  );
  const plain = await run("plain pg", plainAppend, plainLatest);
  p.done();
  const total = WRITERS * perWriter;
  const rows = (who: string, r: typeof ours, base?: typeof ours): ResultRow[] => [
    {
      workload: W,
      contender: `${who}: append version`,
      p50Ms: r.appends.p50,
      p99Ms: r.appends.p99,
      throughput: { value: (total / r.wall) * 1000, unit: "appends+lookups/s" },
      ratios: base ? { "x plain pg": ratio(r.appends.p50, base.appends.p50) } : {},
      errors: r.errors,
      note: `${total} versions; row lock per entity, delta, audit event`,
    },
    {
      workload: W,
      contender: `${who}: latest version`,
      p50Ms: r.lookups.p50,
      p99Ms: r.lookups.p99,
      ratios: base ? { "x plain pg": ratio(r.lookups.p50, base.lookups.p50) } : {},
    },
  ];
  return [...rows("plain pg (same SQL, hand-written)", plain), ...rows("ours: createProfileVersion / latestProfileOf", ours, plain)];
}
