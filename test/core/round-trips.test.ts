/**
 * Round trips per service call, counted (test/support/round-trips.ts), not timed. On a pipelined pool
 * (DB_PIPELINE, on by default, both engines) BEGIN and the context ride with the first statement and
 * COMMIT with the last one where the operation knows it is the last: a single-statement read is ONE round
 * trip. With DB_PIPELINE=false every statement waits for the one before: three.
 */
import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbFor } from "../../src/db/connect";
import { ForbiddenError, NotFoundError, UnavailableError } from "../../src/db/errors";
import { platformContext } from "../../src/db/operation";
import { PreparingClient } from "../../src/db/pool";
import * as screening from "../../src/screening";
import * as ws from "../../src/workspace";
import { engineKind, testConfig, useTestDb } from "../support/db";
import { type RoundTripCounter, roundTripCounter } from "../support/round-trips";

const t = useTestDb();

let counter: RoundTripCounter;
let org: ws.NewOrganization;
let owner: ws.WorkspaceContext;
let tenant: screening.RequestContext;
let entityId: string;

beforeAll(async () => {
  counter = roundTripCounter(t.db.pool);
  const tag = crypto.randomBytes(4).toString("hex");
  org = await ws.createOrganization(t.db, platformContext(), { name: `rt ${tag}`, owner: { email: `rt.${tag}@example.com` } });
  owner = ws.workspaceContext({ organizationId: org.id, userId: org.owner.id });
  const tn = await screening.createTenant(t.db, platformContext(), { slug: `rt-${tag}`, name: "RT" });
  tenant = screening.requestContext({ tenantId: tn.tenant_id, actorId: crypto.randomUUID(), correlationId: crypto.randomUUID() });
  entityId = (await screening.createEntity(t.db, tenant, { entityType: "individual", identifiers: { ssn: String(crypto.randomInt(1e9)).padStart(9, "0") } }))
    .entity_id;
});
afterAll(() => counter?.stop());

/** Round trips of a call, after one warm-up call (so the pool already holds an idle connection). */
async function tripsOf(call: () => Promise<unknown>): Promise<number> {
  await call();
  return counter.count(call);
}

describe("round trips per call", () => {
  it("the pool pipelines", async () => {
    const c = await t.db.pool.connect();
    try {
      expect(c).toBeInstanceOf(PreparingClient);
      expect((c as unknown as PreparingClient).pipelined).toBe(true);
    } finally {
      c.release();
    }
  });

  it("a single-statement read (getOrganization): BEGIN, context, statement and COMMIT in one round trip; three with DB_PIPELINE=false", async () => {
    expect(await tripsOf(() => ws.getOrganization(t.db, owner))).toBe(1);
    const plain = dbFor(t.engine, testConfig(t.engine.url, { DB_PIPELINE: "false" }));
    const plainCounter = roundTripCounter(plain.pool);
    try {
      await ws.getOrganization(plain, owner);
      expect(await plainCounter.count(() => ws.getOrganization(plain, owner))).toBe(3);
    } finally {
      plainCounter.stop();
      await plain.pool.end();
    }
  });

  it("a gated read (auditLog, permission checked in the BEGIN message) is one round trip too", async () => {
    expect(await tripsOf(() => ws.auditLog(t.db, owner, { from: new Date(Date.now() - 60_000), to: new Date(Date.now() + 60_000) }))).toBe(1);
  });

  it("a personal-data read (getEntity): the read writes its own access record (a data-modifying CTE): one round trip", async () => {
    expect(await tripsOf(() => screening.getEntity(t.db, tenant, { entityId }))).toBe(1);
  });

  it("per-call settings (hnsw.ef_search) ride with BEGIN: a semantic search is its statement plus COMMIT, two round trips", async () => {
    const embedding = Array.from({ length: ws.EMBEDDING_DIMENSIONS }, (_, i) => (i % 7) / 7);
    expect(await tripsOf(() => ws.semanticSearchMemories(t.db, owner, { embedding, efSearch: 77 }))).toBe(2);
    const seen = await t.db.tenant(org.id, (c) => c.query<{ v: string }>("SELECT current_setting('hnsw.ef_search') AS v"), {
      settings: { "hnsw.ef_search": "77" },
      oneStatement: true,
    });
    expect(seen.rows[0]!.v).toBe("77");
    // The context's own settings are not the caller's to set.
    for (const name of ["role", "app.tenant_id"]) {
      await expect(t.db.tenant(org.id, (c) => c.query("SELECT 1"), { settings: { [name]: "x" } })).rejects.toThrow(/not allowed/);
    }
  });

  it("a write of two statements (createTask: row, audit row): BEGIN rides with the first, COMMIT waits for the audit row", async () => {
    expect(await tripsOf(() => ws.createTask(t.db, owner, { title: "rt" }))).toBe(3);
  });
});

describe("errors keep their meaning on a pipelined pool", () => {
  it("a refused context is the error reported (not the aborted statement behind it)", async () => {
    const member = await ws.createUser(t.db, owner, { email: `m.${crypto.randomUUID()}@example.com` });
    const asMember = ws.workspaceContext({ organizationId: org.id, userId: member.id });
    const err = await ws.createRole(t.db, asMember, { name: "x", permissions: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ForbiddenError);
    expect((err as Error).message).toContain("roles:create");
    const dead = screening.requestContext({ tenantId: crypto.randomUUID(), actorId: crypto.randomUUID(), correlationId: crypto.randomUUID() });
    expect(await screening.getEntity(t.db, dead, { entityId }).catch((e: unknown) => e)).toBeInstanceOf(ForbiddenError);
  });

  it("a failing single statement (COMMIT behind it) leaves no transaction open and the connection usable", async () => {
    expect(await ws.getUser(t.db, owner, { userId: crypto.randomUUID() }).catch((e: unknown) => e)).toBeInstanceOf(NotFoundError);
    // The pool's connections are idle and outside any transaction: the next calls work.
    for (let i = 0; i < 3; i++) expect((await ws.getOrganization(t.db, owner)).id).toBe(org.id);
    const { rows } = await t.db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'",
    );
    expect(rows[0]!.n).toBe(0);
  });

  it("a statement sent after the COMMIT that rode with the declared last one is refused, never run outside the transaction", async () => {
    const err = await t.db
      .tenant(
        { tenantId: org.id, userId: org.owner.id },
        async (c) => {
          await c.query("SELECT 1 AS one");
          return c.query("SELECT 2 AS two");
        },
        { oneStatement: true },
      )
      .catch((e: unknown) => e);
    expect(String(err)).toMatch(/after the transaction's COMMIT/);
  });

  // Server only: the embedded engine serves every connection from one session, which no call can terminate.
  it.skipIf(engineKind !== "server")(
    "a connection lost mid-pipeline fails the call on the wire with UnavailableError, never hangs, and the pool serves again",
    async () => {
      const db = dbFor(t.engine, testConfig(t.engine.url, { DB_POOL_MAX: "1" }));
      try {
        const c = await db.pool.connect();
        const pid = (await c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
        c.release();
        // BEGIN, a long statement and COMMIT on the wire; two more calls wait for the pool's one connection.
        const onWire = db
          .tenant({ tenantId: org.id }, (cl) => cl.query("SELECT pg_sleep(30)"), { oneStatement: true })
          .then(
            () => "ok",
            (e: unknown) => e,
          );
        const queued = [1, 2].map(() =>
          ws.getOrganization(db, owner).then(
            (o) => o.id,
            (e: unknown) => e,
          ),
        );
        await new Promise((r) => setTimeout(r, 200));
        await t.db.pool.query("SELECT pg_terminate_backend($1)", [pid]);
        expect(await onWire).toBeInstanceOf(UnavailableError);
        // The waiting calls get a fresh connection.
        expect(await Promise.all(queued)).toEqual([org.id, org.id]);
      } finally {
        await db.pool.end();
      }
    },
  );
});

describe("many connections at once", () => {
  it("400 concurrent pipelined calls of four organisations: no error, every result its own organisation's (also on the embedded engine's shared session)", async () => {
    const orgs = [
      org,
      ...(await Promise.all(
        [1, 2, 3].map((i) => ws.createOrganization(t.db, platformContext(), { name: `rt${i}`, owner: { email: `rt${i}.${crypto.randomUUID()}@example.com` } })),
      )),
    ];
    const ctxs = orgs.map((o) => ws.workspaceContext({ organizationId: o.id, userId: o.owner.id }));
    const outcomes = await Promise.all(
      Array.from({ length: 400 }, async (_, i) => {
        const ctx = ctxs[i % 4]!;
        if (i % 3 === 0) await ws.createTask(t.db, ctx, { title: `t${i}` });
        return (await ws.getOrganization(t.db, ctx)).id === ctx.organizationId;
      }),
    );
    expect(outcomes.filter((ok) => !ok)).toEqual([]);
  });
});
