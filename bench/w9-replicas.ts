/**
 * Workload 9 (issue 18): read replicas. Its own primary and two streaming replicas on this machine (the
 * PostgreSQL server binaries, as the replica test), a workspace organisation with members, and a
 * read-mostly mix (9 reads : 1 write, callers cycling through the members) run with 0, 1 and 2 replicas:
 *   - per call: a read (getOrganization, read-only: replica-eligible) and a write (createTask) with each
 *     replica count, side by side; the difference at 0 vs 1 replica is the routing overhead (one machine:
 *     a replica answers no faster than the primary, so this shows the mechanism's cost, not the scale);
 *     a write with replicas pays one more round trip (pg_current_wal_lsn() after COMMIT, the token);
 *   - the share of reads the replicas served in the mix (the rest: callers whose own write a replica had
 *     not replayed yet, read-your-writes).
 */
import { dbFor } from "../src/db/connect";
import { serverEngine } from "../src/db/engine";
import { platformContext } from "../src/db/operation";
import { migrate } from "../src/tools/migrate";
import * as ws from "../src/workspace";
import { OwnServer, serverBinDir } from "../test/support/own-server";
import { benchConfig, type BenchContext } from "./context";
import { compare, progressLine, ratio, type ResultRow } from "./harness";

export async function replicasWorkload(b: BenchContext): Promise<ResultRow[]> {
  const W = "9 read replicas: read-mostly mix";
  const bin = serverBinDir();
  if (b.kind !== "server" || !bin) return [{ workload: W, contender: "skipped", note: "server engine and the PostgreSQL server binaries only" }];
  const p = progressLine(W);
  const servers: OwnServer[] = [];
  const rows: ResultRow[] = [];
  try {
    p.update("starting a primary and two streaming replicas");
    const primary = await OwnServer.create(bin);
    servers.push(primary);
    await migrate(primary.url, { direction: "up" });
    servers.push(await OwnServer.replicaOf(bin, primary), await OwnServer.replicaOf(bin, primary));
    const replicaUrls = servers.slice(1).map((s) => s.url);

    const dbs = [0, 1, 2].map((n) =>
      dbFor(
        serverEngine(primary.url),
        benchConfig(primary.url, b.poolSize, n ? { DATABASE_REPLICA_URLS: replicaUrls.slice(0, n).join(","), DB_REPLICA_CHECK_MS: "100" } : {}),
      ),
    );
    const [db0] = dbs;
    const org = await ws.createOrganization(db0!, platformContext(), {
      name: "Bench",
      slug: "bench-replicas",
      owner: { email: "owner@bench.example", displayName: "Owner" },
    });
    const owner = ws.workspaceContext({ organizationId: org.id, userId: org.owner.id });
    const members = [owner];
    for (let i = 0; i < 15; i++) {
      const u = await ws.createUser(db0!, owner, { email: `m${i}@bench.example`, displayName: `M${i}` });
      members.push(ws.workspaceContext({ organizationId: org.id, userId: u.id }));
    }
    for (const db of dbs) await db.replicas?.probe();

    let k = 0;
    const member = () => members[k++ % members.length]!;
    const tasks = dbs.flatMap((db, n) => [
      { name: `ours: read, ${n} replica(s)`, fn: () => ws.getOrganization(db, member()) },
      { name: `ours: write, ${n} replica(s)`, fn: () => ws.createTask(db, member(), { title: "bench" }) },
    ]);
    const m = await compare(tasks, { rounds: 3, iterations: 300, time: 300 }, (s) => p.update(s));
    const read0 = m.get("ours: read, 0 replica(s)")?.p50 ?? NaN;
    const write0 = m.get("ours: write, 0 replica(s)")?.p50 ?? NaN;
    for (const t of tasks) {
      const r = m.get(t.name);
      const isRead = t.name.includes("read");
      rows.push({
        workload: W,
        contender: t.name,
        p50Ms: r?.p50,
        p99Ms: r?.p99,
        throughput: { value: 1000 / (r?.mean ?? NaN), unit: "calls/s" },
        ratios: { "x 0 replicas": ratio(r?.p50 ?? NaN, isRead ? read0 : write0) },
        note: isRead
          ? "routing overhead per call vs 0 replicas (one machine)"
          : "a write with replicas also reads the WAL position after COMMIT (+1 round trip)",
      });
    }

    // The mix: 8 concurrent callers, 9 reads : 1 write each, 2,000 calls per replica count; share served by replicas.
    for (const [n, db] of dbs.entries()) {
      const before = db.replicas?.stats();
      let calls = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (calls < 2_000) {
            const i = calls++;
            if (i % 10 === 9) await ws.createTask(db, member(), { title: "mix" });
            else await ws.getOrganization(db, member());
          }
        }),
      );
      const ms = performance.now() - started;
      if (!db.replicas || !before) {
        rows.push({
          workload: W,
          contender: `mix 9:1, 8 callers, 0 replicas`,
          throughput: { value: (2_000 / ms) * 1000, unit: "calls/s" },
          note: "every call on the primary",
        });
        continue;
      }
      const s = db.replicas.stats();
      const served = s.replicaReads - before.replicaReads;
      const behind = s.primaryReads.behindCallersWrite - before.primaryReads.behindCallersWrite;
      const other = s.primaryReads.noHealthyReplica + s.primaryReads.replicaFailed - before.primaryReads.noHealthyReplica - before.primaryReads.replicaFailed;
      rows.push({
        workload: W,
        contender: `mix 9:1, 8 callers, ${n} replica(s)`,
        throughput: { value: (2_000 / ms) * 1000, unit: "calls/s" },
        note: `${((100 * served) / (served + behind + other)).toFixed(1)}% of ${served + behind + other} reads served by replicas; ${behind} on the primary (caller's write not replayed yet), ${other} (no healthy replica)`,
      });
    }
    for (const db of dbs) await db.close();
  } finally {
    p.done();
    for (const s of servers.reverse()) await s.destroy();
  }
  return rows;
}
