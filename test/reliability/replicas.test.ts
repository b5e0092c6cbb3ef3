/**
 * Issue 18, items 1-2: read replicas on real streaming replication. The test starts its own primary and a
 * streaming replica (pg_basebackup -R) with the PostgreSQL server binaries, and checks: read-only
 * operations go to the replica, writes to the primary; with replay paused, a writer reads its own write
 * (from the primary) while another member still reads the replica's older copy; a stopped replica costs
 * no call an error; restarted, it is used again.
 */
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Db, dbFor } from "../../src/db/connect";
import { serverEngine } from "../../src/db/engine";
import { platformContext } from "../../src/db/operation";
import { consistencyKey, lsnBytes, type ReplicaStats } from "../../src/db/replicas";
import { migrate } from "../../src/tools/migrate";
import * as ws from "../../src/workspace";
import { describeServer, SERVER_ONLY_REASON, testConfig } from "../support/db";
import { OwnServer, serverBinDir } from "../support/own-server";

const bin = serverBinDir();
let primary: OwnServer | undefined;
let replica: OwnServer | undefined;
let db: Db | undefined;
afterAll(async () => {
  await db?.close();
  await replica?.destroy();
  await primary?.destroy();
});

/** Run `sql` on the replica as its superuser (replay control). */
async function onReplica(sql: string): Promise<void> {
  const c = new pg.Client(replica?.url);
  await c.connect();
  await c.query(sql);
  await c.end();
}

/** Probe until `ok()` holds (the probe runs every 50 ms anyway; this makes the wait explicit and bounded). */
async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    await db?.replicas?.probe();
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describeServer(`read replicas on real streaming replication (server engine; ${SERVER_ONLY_REASON}; needs the PostgreSQL server binaries)`, () => {
  let owner: ws.WorkspaceContext;
  let member: ws.WorkspaceContext;
  const stats = () => db?.replicas?.stats() as ReplicaStats;
  const replicaReads = () => stats().replicaReads;

  beforeAll(async () => {
    if (!bin) return;
    primary = await OwnServer.create(bin);
    await migrate(primary.url, { direction: "up" });
    replica = await OwnServer.replicaOf(bin, primary);
    db = dbFor(serverEngine(primary.url), testConfig(primary.url, { DATABASE_REPLICA_URLS: replica.url, DB_REPLICA_CHECK_MS: "50" }));
    const org = await ws.createOrganization(db, platformContext(), {
      name: "Replicated",
      slug: "replicated",
      owner: { email: "owner@example.com", displayName: "Owner" },
    });
    owner = ws.workspaceContext({ organizationId: org.id, userId: org.owner.id });
    const m = await ws.createUser(db, owner, { email: "member@example.com", displayName: "Member" });
    member = ws.workspaceContext({ organizationId: org.id, userId: m.id });
    await until(() => stats().replicas[0]?.healthy === true, "the replica to be healthy");
  }, 120_000);

  it.skipIf(!bin)("a read-only operation goes to the replica; a write goes to the primary and leaves its caller a token", async () => {
    // The member never wrote: its read may use the replica once the replica has the organisation.
    await until(() => db?.replicas?.pick("probe-only") !== undefined, "a usable replica");
    const before = replicaReads();
    expect((await ws.getOrganization(db as Db, member)).name).toBe("Replicated");
    expect(replicaReads()).toBe(before + 1);

    // A write on a replica would fail (READ ONLY standby); it succeeds, so it ran on the primary, and counts no read.
    const r = await ws.updateOrganization(db as Db, owner, { settings: { theme: "dark" } });
    expect(r.settings).toEqual({ theme: "dark" });
    expect(replicaReads()).toBe(before + 1);
    expect(db?.replicas?.token(consistencyKey(owner))).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  });

  it.skipIf(!bin)("with replay paused, the writer reads its own write from the primary while another member reads the replica's older copy", async () => {
    await until(() => stats().replicas[0]?.healthy === true, "the replica");
    const key = consistencyKey(owner);
    let token = 0n;
    await onReplica("SELECT pg_wal_replay_pause()");
    try {
      await ws.updateOrganization(db as Db, owner, { name: "Renamed while paused" });
      token = lsnBytes(db?.replicas?.token(key) as string); // the caller's token: the primary's position after its COMMIT
      const s0 = stats();

      // The writer: never the stale copy.
      for (let i = 0; i < 5; i++) expect((await ws.getOrganization(db as Db, owner)).name).toBe("Renamed while paused");
      expect(stats().primaryReads.behindCallersWrite).toBe(s0.primaryReads.behindCallersWrite + 5);

      // Another member: still served by the replica, which has not replayed the rename.
      expect((await ws.getOrganization(db as Db, member)).name).toBe("Replicated");
      expect(stats().replicaReads).toBe(s0.replicaReads + 1);
    } finally {
      await onReplica("SELECT pg_wal_replay_resume()");
    }

    // Replay resumed: once the replica is past the writer's token (then spent and forgotten), the writer's reads go there too.
    await until(() => lsnBytes(stats().replicas[0]?.replayLsn ?? "0/0") >= token, "replay past the writer's token");
    const before = replicaReads();
    expect((await ws.getOrganization(db as Db, owner)).name).toBe("Renamed while paused");
    expect(replicaReads()).toBe(before + 1);
  });

  it.skipIf(!bin)("a stopped replica: every call still succeeds (on the primary), skipped and counted; restarted, it is used again", async () => {
    await replica?.kill();
    const s0 = stats();
    for (let i = 0; i < 10; i++) expect((await ws.getOrganization(db as Db, member)).name).toBe("Renamed while paused");
    const s1 = stats();
    expect(s1.replicaReads).toBe(s0.replicaReads); // none served by the dead replica
    expect(s1.primaryReads.replicaFailed + s1.primaryReads.noHealthyReplica).toBe(s0.primaryReads.replicaFailed + s0.primaryReads.noHealthyReplica + 10);
    expect(s1.replicas[0]?.healthy).toBe(false);
    expect(s1.replicas[0]?.skipped).toBeGreaterThan(s0.replicas[0]?.skipped ?? 0);

    await replica?.start(bin as string);
    await until(() => stats().replicas[0]?.healthy === true, "the restarted replica");
    const before = replicaReads();
    expect((await ws.getOrganization(db as Db, member)).name).toBe("Renamed while paused");
    expect(replicaReads()).toBe(before + 1);
  });
});
