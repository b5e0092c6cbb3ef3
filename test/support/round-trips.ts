/**
 * Counting round trips, deterministically (no timing): a round trip begins when a connection writes to the
 * server after it last received something from it (or for the first time). Everything a pipelined
 * transaction sends without waiting (BEGIN, context, statement, COMMIT: written in one tick of the event
 * loop, before any reply can be read) is one round trip; a statement that waits for the previous reply
 * starts another. The socket's writes and 'data' events are watched on every connection the pool lends.
 */
import type pg from "pg";

interface Watched {
  waiting: boolean;
}

export interface RoundTripCounter {
  /** Round trips of the connections the pool lent while `fn` ran (run it once first, so no new connection is opened). */
  count(fn: () => Promise<unknown>): Promise<number>;
  stop(): void;
}

export function roundTripCounter(pool: pg.Pool): RoundTripCounter {
  let counting = false;
  let trips = 0;
  const watched = new WeakMap<object, Watched>();
  const watch = (client: pg.PoolClient) => {
    const stream = (client as unknown as { connection: { stream: NodeJS.WritableStream & NodeJS.EventEmitter } }).connection.stream;
    if (watched.has(stream)) return;
    const w: Watched = { waiting: false };
    watched.set(stream, w);
    const write = stream.write.bind(stream) as (...a: unknown[]) => boolean;
    (stream as unknown as { write: (...a: unknown[]) => boolean }).write = (...args: unknown[]) => {
      if (counting && !w.waiting) trips++;
      w.waiting = true;
      return write(...args);
    };
    stream.on("data", () => {
      w.waiting = false;
    });
  };
  pool.on("acquire", watch);
  return {
    async count(fn) {
      trips = 0;
      counting = true;
      try {
        await fn();
      } finally {
        counting = false;
      }
      return trips;
    },
    stop() {
      pool.off("acquire", watch);
    },
  };
}
