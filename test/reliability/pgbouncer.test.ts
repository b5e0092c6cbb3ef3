/**
 * Issue 7, item 9: tenant isolation through PgBouncer in transaction pooling mode, with 200 concurrent
 * clients. Tenant context is only ever SET LOCAL, so a server connection handed from one client's
 * transaction to another's carries nothing over: zero cross-tenant leaks.
 */
import crypto from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Db, dbFor } from "../../src/db/connect";
import { serverEngine } from "../../src/db/engine";
import { platformContext } from "../../src/db/operation";
import * as screening from "../../src/screening";
import { describeServer, engineKind, SERVER_ONLY_REASON, testConfig, useTestDb } from "../support/db";
import { Bouncer, pgbouncerBinary } from "../support/pgbouncer";

const t = useTestDb();
const bin = pgbouncerBinary();
let bouncer: Bouncer | undefined;
let viaBouncer: Db | undefined;

beforeAll(async () => {
  if (engineKind !== "server" || !bin) return;
  const u = new URL(t.engine.url);
  const database = u.pathname.slice(1);
  bouncer = await Bouncer.start(bin, { host: u.hostname, port: Number(u.port || 5432) }, database);
  // PgBouncer 1.18 in transaction mode cannot carry named prepared statements across transactions (a
  // client's next transaction may run on another server connection): the documented setting there is
  // DB_PREPARED_STATEMENTS=false (see .env.example and src/db/pool.ts; the last test shows why).
  viaBouncer = dbFor(serverEngine(bouncer.url(database)), testConfig(bouncer.url(database), { DB_POOL_MAX: "200", DB_PREPARED_STATEMENTS: "false" }));
});
afterAll(async () => {
  await viaBouncer?.pool.end();
  await bouncer?.stop();
});

describeServer(`PgBouncer, transaction mode (server engine; ${SERVER_ONLY_REASON})`, () => {
  it.skipIf(!bin)("200 concurrent clients across 4 tenants: every transaction sees only its own tenant", async () => {
    const db = viaBouncer as Db;
    const tenants = await Promise.all([0, 1, 2, 3].map((i) => screening.createTenant(t.db, platformContext(), { slug: `bouncer-${i}`, name: `T${i}` })));
    const ctxs = tenants.map((x) => screening.requestContext({ tenantId: x.tenant_id, actorId: null, correlationId: crypto.randomUUID() }));
    const passport = `PB${crypto.randomBytes(4).toString("hex")}`;
    const entity = await screening.createEntity(t.db, ctxs[0] as screening.RequestContext, { entityType: "individual", identifiers: { passport } });
    // The other tenants start screening the shared entity by resolving an identifier they hold.
    for (const ctx of ctxs.slice(1)) await screening.findEntityByIdentifier(t.db, ctx, { kind: "passport", value: passport });
    const window = { acquiredAt: new Date(Date.now() - 1000), freshUntil: new Date(Date.now() + 60_000), staleUntil: new Date(Date.now() + 120_000) };
    for (const [i, ctx] of ctxs.entries()) {
      await screening.storeProviderResponse(t.db, ctx, {
        entityId: entity.entity_id,
        providerId: `own-${i}`,
        checkType: "file",
        dataOrigin: "customer_provided",
        ...window,
        rawResponse: `tenant ${i}'s file`,
        normalizedData: {},
        cost: 0,
      });
    }

    let leaks = 0;
    let done = 0;
    await Promise.all(
      Array.from({ length: 200 }, async (_, k) => {
        const i = k % 4;
        const ctx = ctxs[i] as screening.RequestContext;
        for (let round = 0; round < 5; round++) {
          const seen = await db.tenant(ctx.tenantId, async (c) => {
            const setting = (await c.query("SELECT current_setting('app.tenant_id') AS t, current_user AS u")).rows[0];
            await new Promise((r) => setTimeout(r, Math.random() * 3)); // hold the server connection a little
            const rows = (
              await c.query("SELECT provider_id FROM screening.cached_data_sources WHERE entity_id = $1 AND check_type = 'file'", [entity.entity_id])
            ).rows;
            return { setting, providers: rows.map((r) => r.provider_id) };
          });
          if (seen.setting.t !== ctx.tenantId || seen.setting.u !== "app" || seen.providers.join() !== `own-${i}`) leaks++;
          done++;
        }
      }),
    );
    // Outside a transaction, a pooled server connection carries no tenant and no role.
    const idle = (await db.pool.query("SELECT coalesce(current_setting('app.tenant_id', true), '') AS t, current_user AS u")).rows[0];
    console.log(`[pgbouncer] ${done} tenant transactions from 200 concurrent clients through PgBouncer: ${leaks} cross-tenant leaks`);
    expect(done).toBe(1000);
    expect(leaks).toBe(0);
    expect(idle).toEqual({ t: "", u: "postgres" });
  });

  it.skipIf(!bin)("with DB_PREPARED_STATEMENTS on, named statements break behind it: why the switch exists", async () => {
    const url = (bouncer as Bouncer).url(new URL(t.engine.url).pathname.slice(1));
    const named = dbFor(serverEngine(url), testConfig(url, { DB_POOL_MAX: "50", DB_PREPARED_STATEMENTS: "true" }));
    try {
      const codes = await Promise.all(
        Array.from({ length: 100 }, async (_, k) => {
          try {
            await named.transaction(async (c) => {
              await c.query("SELECT $1::int AS k", [k]);
              await new Promise((r) => setTimeout(r, Math.random() * 3));
            });
            await named.transaction((c) => c.query("SELECT $1::int AS k", [k]));
            return "ok";
          } catch (e) {
            return (e as { sqlstate?: string }).sqlstate ?? "other";
          }
        }),
      );
      // "prepared statement ... does not exist" (26000) or "... already exists" (42P05) on some transactions.
      expect(codes.filter((c) => c === "26000" || c === "42P05").length).toBeGreaterThan(0);
    } finally {
      await named.pool.end();
    }
  });
});
