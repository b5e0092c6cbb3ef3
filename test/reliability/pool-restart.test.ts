/**
 * Issue 7, item 8 (last part): the pool recovers after the server restarts. Our own PostgreSQL on a
 * temporary data directory and a free port, and a Db built exactly as the application builds one
 * (dbFor + createPool with the real Config). The server is stopped twice under the same pool, once with
 * a fast shutdown (pg_ctl -m fast: backends get FATAL 57P01) and once with SIGKILL of the postmaster and
 * every backend (sockets just close; WAL recovery on restart). Each time:
 *   - a transaction in flight when the server goes away fails with UnavailableError;
 *   - every call while it is down (plain transactions, tenant transactions, service functions) fails fast
 *     with UnavailableError, never a raw driver error;
 *   - calls made while the server is starting up either succeed or fail with UnavailableError;
 *   - after the restart the SAME pool (not recreated) serves every call without a single error, from
 *     connections that are all new (no backend pid of before the outage), and data committed before the
 *     outage is there.
 *
 * KNOWN BUG this file found (see the last test): `pg` emits an 'error' event on a client whose connection
 * dies, also while the client is checked out of the pool. pg-pool only listens on IDLE clients, and
 * createPool/withTransaction add no listener on a checked-out one, so a server that goes away while a
 * transaction is in flight raises an unhandled 'error' event: an uncaught exception that ends a Node
 * process. The test watches for exactly that (a listener that counts the events nobody else handles,
 * standing in for the crash) so the recovery checks can still run.
 */
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import path from "node:path";
import { promisify } from "node:util";
import type pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Db, dbFor } from "../../src/db/connect";
import { serverEngine } from "../../src/db/engine";
import { AppError, UnavailableError } from "../../src/db/errors";
import { platformContext } from "../../src/db/operation";
import { migrate } from "../../src/tools/migrate";
import * as screening from "../../src/screening";
import { describeServer, testConfig } from "../support/db";
import { OwnServer, runAs, serverBinDir } from "../support/own-server";

const run = promisify(execFile);
const bin = serverBinDir();
const POOL_MAX = 4;
let server: OwnServer | undefined;
let db: Db | undefined;

afterAll(async () => {
  await db?.pool.end().catch(() => {});
  await server?.destroy();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const outcome = <T>(p: Promise<T>) =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
const describeError = (e: unknown) =>
  e instanceof AppError ? `${e.name}(${e.sqlstate ?? "-"}): ${e.message}` : `RAW ${String((e as Error)?.constructor?.name)}: ${String(e)}`;

/** Hold POOL_MAX transactions open at once so the pool holds POOL_MAX connections; return their backend pids. */
async function fillPool(d: Db): Promise<number[]> {
  return Promise.all(
    Array.from({ length: POOL_MAX }, () =>
      d.transaction(async (c) => (await c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid, pg_sleep(0.1)")).rows[0]?.pid as number),
    ),
  );
}

/** Poll until `cond` holds (generous deadline: the machine may be busy). */
async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const ctxFor = (tenantId: string) => screening.requestContext({ tenantId, actorId: null, correlationId: crypto.randomUUID() });

/** The calls a client of the service layer makes; each is tried during the outage and after it. */
function calls(d: Db, tenantId: string): Record<string, () => Promise<unknown>> {
  return {
    transaction: () => d.transaction((c) => c.query("SELECT 1")),
    "read-only transaction": () => d.transaction((c) => c.query("SELECT count(*) FROM screening.tenants"), { readOnly: true }),
    "tenant transaction": () => d.tenant(tenantId, (c) => c.query("SELECT count(*) FROM screening.audit_events")),
    "screening.recordAuditEvent": () => screening.recordAuditEvent(d, ctxFor(tenantId), { eventType: "data_accessed", details: { via: "pool-restart" } }),
    "screening.listAuditEvents": () =>
      screening.listAuditEvents(d, ctxFor(tenantId), { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 3_600_000), limit: 1000 }),
    "screening.tenantBySlug": () => screening.tenantBySlug(d, platformContext(), { slug: "pool-restart" }),
  };
}

/**
 * 'error' events a client emitted while no listener but ours was attached: without ours, each would have
 * been an uncaught exception (EventEmitter throws on an 'error' event nobody listens to).
 */
const unhandled: string[] = [];
function watchUnhandledClientErrors(pool: pg.Pool): void {
  const watched = new WeakSet<pg.PoolClient>();
  pool.on("acquire", (client) => {
    if (watched.has(client)) return;
    watched.add(client);
    client.on("error", (e: Error) => {
      if (client.listenerCount("error") === 1) unhandled.push(e.message);
    });
  });
}

describeServer(
  "pool recovery after a server restart (server engine: needs a PostgreSQL server process of our own to stop and kill; needs the server binaries)",
  () => {
    let tenantId = "";
    beforeAll(async () => {
      if (!bin) return;
      server = await OwnServer.create(bin);
      await migrate(server.url, { direction: "up" });
      // The application's way: the real Config (from the environment, with test keys) and dbFor/createPool.
      db = dbFor(serverEngine(server.url), testConfig(server.url, { DB_POOL_MAX: String(POOL_MAX) }));
      watchUnhandledClientErrors(db.pool);
      tenantId = (await screening.createTenant(db, platformContext(), { slug: "pool-restart", name: "Pool restart" })).tenant_id;
    });

    const modes = [
      {
        name: "fast shutdown (pg_ctl stop -m fast)",
        stop: async (s: OwnServer) => {
          await run(path.join(bin as string, "pg_ctl"), ["-D", path.join(s.dir, "data"), "stop", "-m", "fast", "-w", "-t", "60"], runAs());
        },
      },
      { name: "SIGKILL of the postmaster and every backend", stop: (s: OwnServer) => s.kill() },
    ];

    it.skipIf(!bin).each(modes)("$name: calls fail with UnavailableError during the outage, then the same pool serves again", async ({ name, stop }) => {
      const d = db as Db;
      const s = server as OwnServer;
      const pool = d.pool;
      const unhandledBefore = unhandled.length;

      // Before: a full pool of live connections, and a committed write we look for afterwards.
      const before = new Set(await fillPool(d));
      expect(before.size).toBe(POOL_MAX);
      expect(pool.totalCount).toBe(POOL_MAX);
      const marker = await screening.recordAuditEvent(d, ctxFor(tenantId), { eventType: "screening_initiated", details: { mode: name } });
      expect(marker?.event_id).toMatch(/^[0-9a-f-]{36}$/);

      // A transaction in flight when the server goes away.
      const inflight = outcome(d.transaction((c) => c.query("SELECT pg_sleep(60)")));
      await until(
        async () =>
          (await pool.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'")).rows[0].n === 1,
        "the in-flight statement to start",
      );

      const stopStarted = Date.now();
      await stop(s);
      const stopMs = Date.now() - stopStarted;

      const lost = await inflight;
      expect(lost.ok, "the in-flight transaction cannot have succeeded").toBe(false);
      expect(lost.ok ? undefined : lost.error, describeError(lost.ok ? undefined : lost.error)).toBeInstanceOf(UnavailableError);

      // During the outage: every kind of call fails fast with UnavailableError (nothing listens on the port).
      const during: string[] = [];
      let slowest = 0;
      for (let round = 0; round < 3; round++) {
        for (const [call, fn] of Object.entries(calls(d, tenantId))) {
          const started = Date.now();
          const r = await outcome(fn());
          slowest = Math.max(slowest, Date.now() - started);
          expect(r.ok, `${call} succeeded with the server down`).toBe(false);
          const err = r.ok ? undefined : r.error;
          expect(err, `${call} during the outage: ${describeError(err)}`).toBeInstanceOf(UnavailableError);
          during.push(call);
        }
      }
      // Well under the pool's connect timeout: a refused connection is reported at once, not after a wait.
      expect(slowest).toBeLessThan(d.config.pool.connectTimeoutMs);
      // The dead connections have left the pool: nothing stale is kept for later callers.
      await until(() => pool.totalCount === 0, "the pool to drop its dead connections");

      // Restart, with a caller hammering the pool meanwhile: each call either succeeds or is UnavailableError.
      let restarting = true;
      const probe = { ok: 0, unavailable: 0, other: [] as string[] };
      const prober = (async () => {
        while (restarting) {
          const r = await outcome(d.transaction((c) => c.query("SELECT 1")));
          if (r.ok) probe.ok++;
          else if (r.error instanceof UnavailableError) probe.unavailable++;
          else probe.other.push(describeError(r.error));
          await sleep(25);
        }
      })();
      const startStarted = Date.now();
      await s.start(bin as string);
      const startMs = Date.now() - startStarted;
      restarting = false;
      await prober;
      expect(probe.other, "calls during the restart").toEqual([]);

      // After: the same pool object, never recreated, serves every call without a single error.
      expect(d.pool).toBe(pool);
      const firstStarted = Date.now();
      await d.transaction((c) => c.query("SELECT 1"));
      const firstMs = Date.now() - firstStarted;
      const afterErrors: string[] = [];
      let afterCalls = 0;
      for (let round = 0; round < 5; round++) {
        const results = await Promise.all(Object.entries(calls(d, tenantId)).map(async ([call, fn]) => [call, await outcome(fn())] as const));
        for (const [call, r] of results) {
          afterCalls++;
          if (!r.ok) afterErrors.push(`${call}: ${describeError(r.error)}`);
        }
      }
      expect(afterErrors).toEqual([]);
      // Every connection is new: none of the backends from before the outage is still in the pool.
      const after = await fillPool(d);
      expect(after.filter((pid) => before.has(pid))).toEqual([]);
      expect(pool.totalCount).toBeLessThanOrEqual(POOL_MAX);
      // What was committed before the outage survived it (WAL recovery after the SIGKILL).
      const events = await screening.listAuditEvents(d, ctxFor(tenantId), {
        from: new Date(Date.now() - 3_600_000),
        to: new Date(Date.now() + 3_600_000),
        limit: 10_000,
      });
      expect(events.some((e) => e.event_id === marker?.event_id)).toBe(true);

      const line =
        `[pool-restart] ${name}: stop ${stopMs} ms; in-flight transaction -> UnavailableError; ${during.length} calls during the outage, all UnavailableError (slowest ${slowest} ms); ` +
        `restart ${startMs} ms with ${probe.ok + probe.unavailable} probe calls (${probe.unavailable} UnavailableError, ${probe.ok} ok, 0 other); ` +
        `first call after restart ${firstMs} ms; ${afterCalls} calls after, 0 errors; ${POOL_MAX}/${POOL_MAX} connections new; ` +
        `${unhandled.length - unhandledBefore} unhandled client 'error' events (${unhandled.slice(unhandledBefore).join("; ") || "none"})`;
      console.log(line);
    });

    // Was a bug until createPool listened for 'error' on every client for its whole life (issue 7, item 8).
    it.skipIf(!bin)("no client emits an 'error' event that nobody handles (each would be an uncaught exception)", () => {
      console.log(`[pool-restart] unhandled client 'error' events over both outages: ${unhandled.length} (${unhandled.join("; ")})`);
      expect(unhandled).toEqual([]);
    });
  },
);
