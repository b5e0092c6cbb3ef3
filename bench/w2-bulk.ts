/**
 * Workload 2: bulk insert of 10,000 entities. COPY binary written by hand is the physical limit (1.00);
 * every other path is reported as rows/s and its ratio to it. Seed target: 10,000 under 10 s.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { copyRows, supportsCopyFromStdin } from "../src/db/copy";
import { createEntity } from "../src/screening";
import { identifiersAad } from "../src/screening/entities";
import { bulkCreateEntities, ENTITIES_COPY, type EntityRow, importEntityRows } from "../src/screening/bulk";
import { keyring } from "../src/screening/context";
import { insertEntitiesUnnest, insertEntitiesValues } from "../src/screening/queries/bulk.queries";
import type { BenchContext } from "./context";
import { compare, progressLine, ratio, type ResultRow, type Task, uuidv7 } from "./harness";
import { builders } from "./orm";

const COPY_SQL = "COPY screening.entities (entity_id, entity_type, canonical_identifiers) FROM STDIN";

/** The physical limit: a COPY binary stream written by hand for exactly these three columns. */
function handBinary(rows: EntityRow[]): Buffer {
  let size = 19 + 2;
  for (const r of rows) size += 2 + 20 + 4 + Buffer.byteLength(r.entityType) + 4 + r.canonicalIdentifiers.length;
  const buf = Buffer.allocUnsafe(size);
  buf.write("PGCOPY\n\xff\r\n\0", 0, "latin1");
  buf.writeInt32BE(0, 11);
  buf.writeInt32BE(0, 15);
  let at = 19;
  for (const r of rows) {
    at = buf.writeInt16BE(3, at);
    at = buf.writeInt32BE(16, at);
    at += buf.write(r.entityId.replace(/-/g, ""), at, "hex");
    at = buf.writeInt32BE(r.entityType.length, at);
    at += buf.write(r.entityType, at, "latin1");
    at = buf.writeInt32BE(r.canonicalIdentifiers.length, at);
    at += r.canonicalIdentifiers.copy(buf, at);
  }
  buf.writeInt16BE(-1, at);
  return buf;
}

function handText(rows: EntityRow[]): string {
  let s = "";
  for (const r of rows) s += `${r.entityId}\t${r.entityType}\t\\\\x${r.canonicalIdentifiers.toString("hex")}\n`;
  return s;
}

async function withClient<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    return await fn(c);
  } finally {
    c.release();
  }
}

function valuesSql(n: number): string {
  const tuples: string[] = [];
  for (let i = 0; i < n; i++) tuples.push(`($${3 * i + 1}, $${3 * i + 2}, $${3 * i + 3})`);
  return `INSERT INTO screening.entities (entity_id, entity_type, canonical_identifiers) VALUES ${tuples.join(", ")}`;
}

export async function bulkWorkload(b: BenchContext): Promise<ResultRow[]> {
  const W = "2 bulk insert";
  const p = progressLine(W);
  const N = b.quick ? 200 : 10_000;
  const ONE_BY_ONE = b.quick ? 10 : 200;
  const k = keyring(b.db.config);
  const orm = builders(b.plain);
  const canCopy = await withClient(b.plain, (c) => supportsCopyFromStdin(c));

  let rows: EntityRow[] = [];
  const fresh = async () => {
    rows = Array.from({ length: N }, (_, i) => {
      const entityId = uuidv7();
      return {
        entityId,
        entityType: "individual" as const,
        canonicalIdentifiers: k.encrypt(JSON.stringify({ ssn: String(100_000_000 + i) }), identifiersAad(entityId)),
      };
    });
  };
  const truncate = async () => {
    await b.plain.query("TRUNCATE screening.entities CASCADE");
  };
  let ssnBase = 100_000_000;
  const inputs = () =>
    Array.from({ length: N }, () => ({ entityType: "individual" as const, identifiers: { ssn: String(ssnBase++ % 1_000_000_000).padStart(9, "0") } }));
  let pending: ReturnType<typeof inputs> = [];

  const names = {
    copyBinary: "COPY binary, hand-written",
    copyText: "COPY text, hand-written",
    ours: "ours: copyRows from generated row type",
    plainValues: "plain pg multi-row VALUES",
    pgtyped: "pgtyped bulk query (VALUES :rows)",
    unnest: "INSERT ... SELECT FROM unnest (pgtyped)",
    kysely: "Kysely insert values",
    drizzle: "Drizzle insert values",
    importRows: "ours: service importEntityRows (+audit)",
    service: "ours: service bulkCreateEntities (encrypt, blind index, audit)",
    oneByOne: `ours: createEntity one at a time (${ONE_BY_ONE} rows)`,
  };
  const tasks: Task[] = [
    ...(canCopy
      ? [
          {
            name: names.copyBinary,
            fn: () => withClient(b.plain, (c) => pipeline(Readable.from([handBinary(rows)]), c.query(copyFrom(`${COPY_SQL} (FORMAT binary)`)))),
          },
          { name: names.copyText, fn: () => withClient(b.plain, (c) => pipeline(Readable.from([handText(rows)]), c.query(copyFrom(COPY_SQL)))) },
        ]
      : []),
    { name: names.ours, fn: () => b.db.transaction((c) => copyRows(c, ENTITIES_COPY, rows)) },
    {
      name: names.plainValues,
      fn: () =>
        b.plain.query(
          valuesSql(rows.length),
          rows.flatMap((r) => [r.entityId, r.entityType, r.canonicalIdentifiers]),
        ),
    },
    { name: names.pgtyped, fn: () => b.db.transaction((c) => insertEntitiesValues.run({ rows }, c)) },
    {
      name: names.unnest,
      fn: () =>
        b.db.transaction((c) =>
          insertEntitiesUnnest.run(
            {
              entityIds: rows.map((r) => r.entityId),
              entityTypes: rows.map((r) => r.entityType),
              canonicalIdentifiers: rows.map((r) => r.canonicalIdentifiers),
            },
            c,
          ),
        ),
    },
    { name: names.kysely, fn: () => orm.kyselyInsert(rows) },
    { name: names.drizzle, fn: () => orm.drizzleInsert(rows) },
    { name: names.importRows, fn: () => importEntityRows(b.db, b.ctx, { rows }) },
    {
      name: names.service,
      fn: () => bulkCreateEntities(b.db, b.ctx, { entities: pending }),
      beforeEach: async () => {
        pending = inputs();
      },
    },
    {
      name: names.oneByOne,
      fn: async () => {
        for (const input of pending.slice(0, ONE_BY_ONE)) await createEntity(b.db, b.ctx, input);
      },
      beforeEach: async () => {
        pending = inputs();
      },
    },
  ].map((t) => ({ ...t, beforeEach: t.beforeEach ?? fresh, afterEach: truncate }));

  await truncate();
  const m = await compare(
    tasks,
    b.quick ? { rounds: 1, iterations: 1, time: 0, warmupIterations: 0 } : { rounds: 3, iterations: 2, time: 0, warmupIterations: 1 },
    (msg) => p.update(msg),
  );
  p.done();
  const rate = (name: string) => (name === names.oneByOne ? ONE_BY_ONE : N) / ((m.get(name)?.p50 ?? NaN) / 1000);
  const limit = canCopy ? rate(names.copyBinary) : NaN;
  return tasks.map(({ name }) => {
    const r = m.get(name);
    const perBatch = name === names.oneByOne ? ` per ${ONE_BY_ONE} rows` : ` per ${N.toLocaleString("en-US")} rows`;
    return {
      workload: W,
      contender: name,
      p50Ms: r?.p50,
      p99Ms: r?.p99,
      throughput: { value: rate(name), unit: "rows/s" },
      ratios: { "x COPY binary rows/s": ratio(rate(name), limit) },
      note:
        `${perBatch.trim()}` +
        (name === names.ours ? (canCopy ? "; goal >= 0.80x COPY binary" : "; embedded engine: unnest fallback (no COPY FROM STDIN over pglite-socket)") : "") +
        (name === names.service ? "; seed target 10,000 < 10 s" : ""),
    };
  });
}
