/**
 * A loopback TCP proxy that adds a fixed delay to every chunk, each way: what an application pays for a
 * round trip to a database on another host (0.2 to 1 ms), which bare loopback hides (tens of
 * microseconds). `make bench` runs the round-trip-sensitive workloads both directly and through it.
 *
 * Written by hand (about 60 lines) rather than taken from a package: what is needed is sub-millisecond
 * delays, which Node timers cannot give (setTimeout rounds to 1 ms) and which `tc netem` would (not
 * available in this machine's kernel). The proxy runs in a worker thread with its own event loop, so the
 * benchmark's own work never delays forwarding; while a chunk is in flight it polls the clock with
 * setImmediate (I/O still runs between polls), a precision of tens of microseconds.
 */
import { Worker } from "node:worker_threads";

const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const net = require("node:net");
const delayNs = BigInt(Math.round(workerData.delayMs * 1e6));
const queues = new Set();
let pumping = false;
function pump() {
  const now = process.hrtime.bigint();
  for (const q of queues) {
    while (q.items.length && q.items[0].due <= now) q.to.write(q.items.shift().chunk);
    if (!q.items.length) queues.delete(q);
  }
  if (queues.size) setImmediate(pump);
  else pumping = false;
}
function forward(from, to) {
  const q = { to, items: [] };
  from.on("data", (chunk) => {
    q.items.push({ chunk, due: process.hrtime.bigint() + delayNs });
    queues.add(q);
    if (!pumping) { pumping = true; setImmediate(pump); }
  });
}
const server = net.createServer((client) => {
  client.setNoDelay(true);
  const upstream = net.connect(workerData.target.port, workerData.target.host);
  upstream.setNoDelay(true);
  forward(client, upstream);
  forward(upstream, client);
  const end = () => { client.destroy(); upstream.destroy(); };
  client.on("error", end); upstream.on("error", end); client.on("close", end); upstream.on("close", end);
});
server.listen(0, "127.0.0.1", () => parentPort.postMessage({ port: server.address().port }));
parentPort.on("message", (m) => { if (m === "close") server.close(() => process.exit(0)); });
`;

export interface LatencyProxy {
  /** A connection string through the proxy (the target's, with host and port replaced). */
  url: string;
  delayMs: number;
  close(): Promise<void>;
}

/** Start a proxy in front of the database at `url`, adding `delayMs` to each chunk each way. */
export async function startLatencyProxy(url: string, delayMs: number): Promise<LatencyProxy> {
  const u = new URL(url);
  const worker = new Worker(WORKER, { eval: true, workerData: { delayMs, target: { host: u.hostname, port: Number(u.port || 5432) } } });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once("message", (m: { port: number }) => resolve(m.port));
    worker.once("error", reject);
  });
  const through = new URL(url);
  through.hostname = "127.0.0.1";
  through.port = String(port);
  return {
    url: through.toString(),
    delayMs,
    async close() {
      worker.postMessage("close");
      await new Promise((r) => worker.once("exit", r));
    },
  };
}
