/**
 * Read replicas with read-your-writes (DATABASE_REPLICA_URLS; server engine only).
 *
 * Which calls may go to a replica is the registry's to say: an operation that only reads and writes no
 * access record (`kind: "read"`, `audit` not "access") runs in a READ ONLY transaction, and only those are
 * offered to a replica; everything else, personal reads included (their access record is a write), runs on
 * the primary.
 *
 * Read-your-writes: after a write of a caller commits, the layer reads the primary's WAL position
 * (`pg_current_wal_lsn()`, taken after COMMIT, so at or past the commit record) and keeps it as that
 * caller's token, keyed by its context (the same tenant and user share it, whichever context object carries
 * them). A read of that caller goes to a replica only when the replica is known to have replayed past the
 * token (`pg_last_wal_replay_lsn()`), otherwise to the primary. Callers that span processes carry the token
 * themselves: `token(key)` after a write, `observe(key, token)` in the next process. Nothing waits: a
 * replica that has not caught up simply is not used for that caller (the issue's "or a wait up to a bound"
 * was not built: the primary answers at once, which is never slower for the caller).
 *
 * Health: every `checkMs` a probe asks the primary for its WAL position and each replica for its replay
 * position; a replica that does not answer, is not in recovery, or lags more than `maxLagBytes` is skipped
 * until a probe finds it well again. A read that fails on a replica because the replica is unreachable is
 * retried on the primary at once (counted, logged once per outage), never an error for the caller.
 *
 * Why by hand: the peers' replica routing (Prisma's read-replicas extension, Drizzle's withReplicas,
 * postgres.js multi-host) routes blindly or by transaction kind only; none tracks WAL positions per caller.
 */
import pg from "pg";
import { type PoolOptions, createPool } from "./pool";
import type { Config } from "../config";

/** A WAL position ("16/B374D848") as a number of bytes. */
export function lsnBytes(lsn: string): bigint {
  const [hi, lo] = lsn.split("/");
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

/** Bytes back to PostgreSQL's pg_lsn text. */
export const lsnText = (b: bigint) => `${(b >> 32n).toString(16).toUpperCase()}/${(b & 0xffffffffn).toString(16).toUpperCase()}`;

export interface ReplicaStats {
  /** Read-only calls served by a replica. */
  replicaReads: number;
  /** Read-only calls served by the primary, by why. */
  primaryReads: { noHealthyReplica: number; behindCallersWrite: number; replicaFailed: number };
  /** Per replica: healthy now, last known replay position, and how often a probe or a read found it unusable. */
  replicas: { url: string; healthy: boolean; replayLsn: string | null; lagBytes: number | null; skipped: number }[];
}

interface Replica {
  url: string;
  pool: pg.Pool;
  healthy: boolean;
  replay: bigint | null;
  lag: bigint | null;
  skipped: number;
  /** Logged as down (once per outage). */
  down: boolean;
}

export interface ReplicaSet {
  /** The pool for a read-only call of `key`: a healthy replica that has replayed past key's last write, or undefined (use the primary). */
  pick(key: string): pg.Pool | undefined;
  /** After a write of `key` committed on the primary: remember its WAL position. */
  wrote(key: string, primary: pg.Pool): Promise<void>;
  /** The read-your-writes token of `key` (a WAL position), to carry to another process. */
  token(key: string): string | undefined;
  /** Adopt a token from elsewhere (the later of the two positions counts). */
  observe(key: string, token: string): void;
  /** A read on `pool` failed because the replica is unreachable: skip it until a probe finds it again. */
  failed(pool: pg.Pool, e: unknown): void;
  /** Probe now (tests; the timer probes every checkMs). */
  probe(): Promise<void>;
  stats(): ReplicaStats;
  close(): Promise<void>;
}

/** Replicas of `primary` from configuration; undefined without DATABASE_REPLICA_URLS. */
export function createReplicaSet(cfg: Config, primary: pg.Pool, poolOpts: PoolOptions): ReplicaSet | undefined {
  const r = cfg.replicas;
  if (!r || r.urls.length === 0) return undefined;
  const replicas: Replica[] = r.urls.map((url) => ({
    url,
    pool: createPool(url, cfg.pool, poolOpts),
    healthy: false,
    replay: null,
    lag: null,
    skipped: 0,
    down: false,
  }));
  const tokens = new Map<string, bigint>();
  const unknown = new Set<string>();
  const UNKNOWN = 2n ** 64n;
  const counts = { replicaReads: 0, noHealthyReplica: 0, behindCallersWrite: 0, replicaFailed: 0 };
  let next = 0;

  const redact = (url: string) => url.replace(/\/\/([^:/@]+):[^@/]*@/, "//$1:***@");
  const markDown = (x: Replica, why: string) => {
    x.healthy = false;
    x.skipped++;
    if (!x.down) console.warn(`replica ${redact(x.url)} skipped: ${why}`);
    x.down = true;
  };

  async function probe() {
    const unresolved = [...unknown]; // failed before this probe asked the primary: its position now is past their commits
    let head: bigint | undefined;
    try {
      head = lsnBytes((await primary.query<{ l: string }>("SELECT pg_current_wal_lsn()::text AS l")).rows[0]!.l);
    } catch {
      // Primary unreachable: the calls will say so; replicas keep their last state.
    }
    if (head !== undefined) {
      for (const k of unresolved) {
        unknown.delete(k);
        if (tokens.get(k) === UNKNOWN) tokens.set(k, head);
      }
    }
    await Promise.all(
      replicas.map(async (x) => {
        try {
          const { rows } = await x.pool.query<{ r: boolean; l: string | null }>("SELECT pg_is_in_recovery() AS r, pg_last_wal_replay_lsn()::text AS l");
          const row = rows[0]!;
          if (!row.r || !row.l) return markDown(x, "not a standby in recovery");
          x.replay = lsnBytes(row.l);
          x.lag = head === undefined ? x.lag : head > x.replay ? head - x.replay : 0n;
          if (x.lag !== null && x.lag > BigInt(r!.maxLagBytes)) return markDown(x, `lags ${x.lag} bytes behind the primary (bound ${r!.maxLagBytes})`);
          if (x.down) console.warn(`replica ${redact(x.url)} is back`);
          x.healthy = true;
          x.down = false;
        } catch (e) {
          markDown(x, `unreachable (${(e as Error).message})`);
        }
      }),
    );
    // Tokens every healthy replica has replayed past are spent: forget them (bounds the map by recent writers).
    const replayed = replicas.filter((x) => x.healthy && x.replay !== null).map((x) => x.replay as bigint);
    if (replayed.length === replicas.length) {
      const floor = replayed.reduce((a, b) => (a < b ? a : b));
      for (const [k, v] of tokens) if (v <= floor) tokens.delete(k);
    }
  }

  let probing: Promise<void> | undefined;
  const timer = setInterval(() => {
    probing ??= probe().finally(() => (probing = undefined));
  }, r.checkMs);
  timer.unref();
  const first = probe();

  return {
    pick(key) {
      const healthy = replicas.filter((x) => x.healthy);
      if (healthy.length === 0) {
        counts.noHealthyReplica++;
        return undefined;
      }
      const need = tokens.get(key);
      const ready = need === undefined ? healthy : healthy.filter((x) => x.replay !== null && x.replay >= need);
      if (ready.length === 0) {
        counts.behindCallersWrite++;
        return undefined;
      }
      counts.replicaReads++;
      return ready[next++ % ready.length]!.pool;
    },
    async wrote(key, primaryPool) {
      try {
        const { rows } = await primaryPool.query<{ l: string }>("SELECT pg_current_wal_lsn()::text AS l");
        const at = lsnBytes(rows[0]!.l);
        if ((tokens.get(key) ?? -1n) < at) tokens.set(key, at);
      } catch {
        // Position unknown (the write committed, the primary did not answer after): no replica qualifies
        // until the next probe replaces this by the primary's position then, which is past the commit.
        tokens.set(key, UNKNOWN);
        unknown.add(key);
      }
    },
    token(key) {
      const t = tokens.get(key);
      return t === undefined ? undefined : lsnText(t);
    },
    observe(key, token) {
      const at = lsnBytes(token);
      if ((tokens.get(key) ?? -1n) < at) tokens.set(key, at);
    },
    failed(pool, e) {
      const x = replicas.find((y) => y.pool === pool);
      counts.replicaReads--;
      counts.replicaFailed++;
      if (x) markDown(x, `a read failed: ${(e as Error).message}`);
    },
    probe: async () => {
      await first;
      await probe();
    },
    stats: () => ({
      replicaReads: counts.replicaReads,
      primaryReads: { noHealthyReplica: counts.noHealthyReplica, behindCallersWrite: counts.behindCallersWrite, replicaFailed: counts.replicaFailed },
      replicas: replicas.map((x) => ({
        url: redact(x.url),
        healthy: x.healthy,
        replayLsn: x.replay === null ? null : lsnText(x.replay),
        lagBytes: x.lag === null ? null : Number(x.lag),
        skipped: x.skipped,
      })),
    }),
    async close() {
      clearInterval(timer);
      await probing?.catch(() => {});
      await Promise.all(replicas.map((x) => x.pool.end()));
    },
  };
}

/** The read-your-writes key of a context: its identifying fields, whatever object carries them. */
export function consistencyKey(ctx: unknown): string {
  if (ctx === null || typeof ctx !== "object") return String(ctx);
  const o = ctx as Record<string, unknown>;
  return JSON.stringify(
    Object.keys(o)
      .sort()
      .map((k) => [k, o[k]]),
  );
}
