/**
 * Measurement helpers for `make bench`: tinybench runs the tasks, in several rounds whose task order
 * rotates (so a slow spell on a shared machine does not land on one contender), and the samples of all
 * rounds are pooled into median and p99. Every comparison is a ratio between contenders of the same run.
 */
import { Bench } from "tinybench";

export interface Task {
  name: string;
  fn: () => Promise<unknown>;
  /** Runs before each iteration, outside the timing (e.g. fresh rows to insert). */
  beforeEach?: () => Promise<void> | void;
  /** Runs after each iteration, outside the timing (e.g. TRUNCATE). */
  afterEach?: () => Promise<void> | void;
}

export interface Measured {
  name: string;
  samples: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  mean: number;
}

export interface CompareOptions {
  /** Rounds of every task (order rotated each round). */
  rounds: number;
  /** Per task and round: minimum iterations and time budget (ms). */
  iterations: number;
  time: number;
  warmupIterations?: number;
}

const quantile = (sorted: number[], q: number) => {
  if (!sorted.length) return NaN;
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (i - lo);
};

export function summarise(name: string, samples: number[]): Measured {
  const s = [...samples].sort((a, b) => a - b);
  return { name, samples: s.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99), mean: s.reduce((a, b) => a + b, 0) / (s.length || 1) };
}

/** Run `tasks` with tinybench, `rounds` times in rotating order; pooled statistics per task. */
export async function compare(tasks: Task[], opts: CompareOptions, progress: (msg: string) => void): Promise<Map<string, Measured>> {
  const pooled = new Map<string, number[]>(tasks.map((t) => [t.name, []]));
  for (let round = 0; round < opts.rounds; round++) {
    const order = tasks.map((_, i) => tasks[(i + round) % tasks.length] as Task);
    const bench = new Bench({
      iterations: opts.iterations,
      time: opts.time,
      warmupIterations: opts.warmupIterations ?? Math.min(10, opts.iterations),
      warmupTime: 0,
      retainSamples: true,
      throws: true,
    });
    for (const t of order) bench.add(t.name, t.fn, { beforeEach: t.beforeEach, afterEach: t.afterEach, async: true });
    let done = 0;
    bench.addEventListener("cycle", () => progress(`round ${round + 1}/${opts.rounds}: ${++done}/${order.length} contenders`));
    await bench.run();
    for (const task of bench.tasks) {
      const r = task.result as { state: string; error?: Error; latency?: { samples?: number[] } };
      if (r.state === "errored") throw r.error ?? new Error(`${task.name} failed`);
      pooled.get(task.name)?.push(...(r.latency?.samples ?? []));
    }
  }
  return new Map(tasks.map((t) => [t.name, summarise(t.name, pooled.get(t.name) ?? [])]));
}

/** Progress on stderr, one rewritten line when it is a terminal. */
export function progressLine(prefix: string): { update: (msg: string) => void; done: (msg?: string) => void } {
  const tty = process.stderr.isTTY;
  const started = Date.now();
  let last = 0;
  return {
    update(msg) {
      const now = Date.now();
      if (!tty && now - last < 5_000) return; // in logs, at most one line per 5 s
      last = now;
      const line = `  ${prefix}: ${msg} (${((now - started) / 1000).toFixed(0)} s)`;
      process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
    },
    done(msg) {
      const line = `  ${prefix}: ${msg ?? "done"} in ${((Date.now() - started) / 1000).toFixed(1)} s`;
      process.stderr.write(tty ? `\r\x1b[K${line}\n` : `${line}\n`);
    },
  };
}

/** One line of the results table (and of results.json). */
export interface ResultRow {
  workload: string;
  contender: string;
  /** Milliseconds per operation (median, 99th percentile). */
  p50Ms?: number;
  p99Ms?: number;
  throughput?: { value: number; unit: string };
  /** name -> ratio, e.g. { "/ plain pg": 0.84 }: time ratio (lower is faster) unless the name says otherwise. */
  ratios?: Record<string, number>;
  errors?: number;
  note?: string;
}

export const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a) ? a / b : NaN);

const fmtMs = (ms: number | undefined) =>
  ms === undefined || Number.isNaN(ms)
    ? ""
    : ms >= 1000
      ? `${(ms / 1000).toFixed(2)} s`
      : ms >= 10
        ? `${ms.toFixed(1)} ms`
        : ms >= 1
          ? `${ms.toFixed(2)} ms`
          : `${(ms * 1000).toFixed(0)} us`;
const fmtNum = (n: number) => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(n >= 10 ? 1 : 2));

export function formatTable(rows: ResultRow[]): string {
  const head = ["workload", "contender", "median", "p99", "throughput", "ratios", "note"];
  const body = rows.map((r) => [
    r.workload,
    r.contender,
    fmtMs(r.p50Ms),
    fmtMs(r.p99Ms),
    r.throughput ? `${fmtNum(r.throughput.value)} ${r.throughput.unit}` : "",
    Object.entries(r.ratios ?? {})
      .filter(([, v]) => Number.isFinite(v))
      .map(([k, v]) => `${v.toFixed(2)} ${k}`)
      .join(", "),
    [r.errors !== undefined ? `${r.errors} errors` : "", r.note ?? ""].filter(Boolean).join("; "),
  ]);
  return markdown(head, body);
}

export function markdown(head: string[], body: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(" | ")} |`;
  return [line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...body.map(line)].join("\n");
}

/** Run `n` async jobs with at most `concurrency` in flight. */
export async function pool<T>(n: number, concurrency: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await job(i);
      }
    }),
  );
  return out;
}

/** A time-ordered UUID (version 7), as core.uuidv7() makes them, without a round trip. */
export function uuidv7(): string {
  const b = Buffer.allocUnsafe(16);
  b.writeUIntBE(Date.now(), 0, 6);
  crypto.getRandomValues(b.subarray(6));
  b[6] = ((b[6] as number) & 0x0f) | 0x70;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
