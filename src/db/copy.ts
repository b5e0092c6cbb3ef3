/**
 * Bulk loading with COPY ... FROM STDIN (FORMAT binary), fed from typed rows (pgtyped's generated
 * parameter types), through pg-copy-streams. The fastest way into PostgreSQL: no SQL text per row, no bind
 * parameter limit, no text parsing on the server.
 *
 *   const ENTITIES = copyTable<IInsertItemParams>("app_schema.items", {
 *     itemId: { column: "item_id", type: "uuid" }, ...   // every key of the row type must be mapped
 *   });
 *   await db.transaction((c) => copyRows(c, ENTITIES, rows));
 *
 * - Every key of the row type must be mapped to a column (a compile error otherwise), so a query change
 *   that adds a parameter cannot silently drop a column from the bulk path.
 * - Values are checked while they are encoded: a value of the wrong shape throws a ValidationError naming
 *   the row and field (`rows.17.entityId`) and the COPY is abandoned (CopyFail). Database errors (NOT NULL,
 *   CHECK, unique, foreign key, bad enum label) come back as the typed errors of mapDbError, with the row.
 * - COPY is one statement: it loads every row or none. Run it inside a transaction (db.transaction /
 *   db.tenant) with whatever else belongs to the same change, and nothing is half-written on failure.
 * - COPY into a table with row-level security enabled for the current role is refused by PostgreSQL
 *   ("COPY FROM not supported with row-level security"); such tables need INSERT.
 * - The embedded engine (PGlite over pglite-socket) cannot run COPY FROM STDIN: the socket server feeds
 *   PGlite one protocol message at a time, and PGlite ends the session on the CopyData that follows
 *   ("protocol synchronization was lost"). copyRows detects PGlite (once per connection) and uses the
 *   table's `fallback` instead — typically an INSERT ... SELECT FROM unnest(...) generated query — in
 *   batches, with the same validation; without a fallback it throws an UnavailableError.
 * - The pool's client-side query_timeout (DB_STATEMENT_TIMEOUT_MS + 5 s) also bounds one COPY.
 *
 * Why the binary encoder below is written here rather than taken from pg-copy-streams-binary (2.2.0, read
 * for this decision): it has no uuid type, and every table here is keyed by uuid; its encoders do not
 * check values (bool sends any truthy value as true, int4 writes whatever word32be makes of it), so a bad
 * value would reach the table or fail as an unlabelled error instead of a ValidationError naming
 * rows.N.field; and it brings six stream helpers (through2, bl, bufferput, int64-buffer, multi-fork,
 * ieee754) for what is about 150 lines of Buffer writes. pg-copy-streams (the COPY transport) is used as is.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { PreparingClient } from "./pool";
import { AppError, UnavailableError, ValidationError, mapDbError } from "./errors";

export type CopyType = "uuid" | "text" | "bytea" | "int2" | "int4" | "int8" | "float4" | "float8" | "bool" | "timestamptz" | "jsonb" | "vector";

export interface CopyColumn {
  /** Column name in the table (a plain lower-case identifier). */
  column: string;
  /** How the value is encoded; enums and varchar are "text". */
  type: CopyType;
}

export interface CopyTable<Row> {
  readonly table: string;
  readonly keys: readonly (keyof Row & string)[];
  readonly columns: readonly CopyColumn[];
  /** The statement copyRows runs. */
  readonly sql: string;
  /** Loads a batch where COPY FROM STDIN is not available (the embedded engine). */
  readonly fallback?: (rows: readonly Row[], client: pg.ClientBase) => Promise<unknown>;
  readonly fallbackBatch: number;
}

const IDENT = /^[a-z_][a-z0-9_]*$/;
const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Describe a COPY target: `columns` maps EVERY key of the row type to a column and a wire type. */
export function copyTable<Row>(
  table: string,
  columns: { [K in keyof Row & string]-?: CopyColumn },
  opts: { fallback?: (rows: readonly Row[], client: pg.ClientBase) => Promise<unknown>; fallbackBatch?: number } = {},
): CopyTable<Row> {
  const parts = table.split(".");
  if (parts.length > 2 || !parts.every((p) => IDENT.test(p))) throw new Error(`copyTable: bad table name ${table}`);
  const keys = Object.keys(columns) as (keyof Row & string)[];
  const cols = keys.map((k) => columns[k]);
  for (const c of cols) if (!IDENT.test(c.column)) throw new Error(`copyTable: bad column name ${c.column}`);
  return {
    table,
    keys,
    columns: cols,
    sql: `COPY ${parts.map(quoteIdent).join(".")} (${cols.map((c) => quoteIdent(c.column)).join(", ")}) FROM STDIN (FORMAT binary)`,
    fallback: opts.fallback,
    fallbackBatch: opts.fallbackBatch ?? 5_000,
  };
}

// --- binary encoding -------------------------------------------------------------------------------

const SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");
const HEADER = Buffer.concat([SIGNATURE, Buffer.alloc(8)]); // flags 0, header extension length 0
const TRAILER = Buffer.from([0xff, 0xff]);
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const CHUNK = 256 * 1024;

class Bad extends Error {}

/** Writes rows into ~256 KB chunks of COPY binary data. */
class Writer {
  buf = Buffer.allocUnsafe(CHUNK);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  take(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(CHUNK);
    this.pos = 0;
    return out;
  }

  field(type: CopyType, v: unknown): void {
    if (v === null || v === undefined) {
      this.ensure(4);
      this.pos = this.buf.writeInt32BE(-1, this.pos);
      return;
    }
    switch (type) {
      case "uuid": {
        if (typeof v !== "string" || v.length !== 36 || v[8] !== "-" || v[13] !== "-" || v[18] !== "-" || v[23] !== "-") throw new Bad("must be a uuid");
        this.ensure(20);
        this.buf.writeInt32BE(16, this.pos);
        const hex = v.slice(0, 8) + v.slice(9, 13) + v.slice(14, 18) + v.slice(19, 23) + v.slice(24);
        if (this.buf.write(hex, this.pos + 4, 16, "hex") !== 16) throw new Bad("must be a uuid");
        this.pos += 20;
        return;
      }
      case "text": {
        if (typeof v !== "string") throw new Bad("must be a string");
        const n = Buffer.byteLength(v, "utf8");
        this.ensure(4 + n);
        this.buf.writeInt32BE(n, this.pos);
        this.pos += 4 + this.buf.write(v, this.pos + 4, n, "utf8");
        return;
      }
      case "bytea": {
        if (!(v instanceof Uint8Array)) throw new Bad("must be a Buffer");
        this.ensure(4 + v.length);
        this.buf.writeInt32BE(v.length, this.pos);
        this.buf.set(v, this.pos + 4);
        this.pos += 4 + v.length;
        return;
      }
      case "int2":
      case "int4": {
        const n = typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v;
        const max = type === "int2" ? 32_767 : 2_147_483_647;
        if (typeof n !== "number" || !Number.isInteger(n) || n > max || n < -max - 1) throw new Bad(`must be an ${type} integer`);
        const size = type === "int2" ? 2 : 4;
        this.ensure(4 + size);
        this.buf.writeInt32BE(size, this.pos);
        if (size === 2) this.buf.writeInt16BE(n, this.pos + 4);
        else this.buf.writeInt32BE(n, this.pos + 4);
        this.pos += 4 + size;
        return;
      }
      case "int8": {
        let n: bigint;
        try {
          n =
            typeof v === "bigint"
              ? v
              : typeof v === "number" && Number.isInteger(v)
                ? BigInt(v)
                : typeof v === "string" && /^-?\d+$/.test(v)
                  ? BigInt(v)
                  : (NaN as never);
        } catch {
          throw new Bad("must be an int8 integer");
        }
        if (typeof n !== "bigint" || n > 9_223_372_036_854_775_807n || n < -9_223_372_036_854_775_808n) throw new Bad("must be an int8 integer");
        this.ensure(12);
        this.buf.writeInt32BE(8, this.pos);
        this.buf.writeBigInt64BE(n, this.pos + 4);
        this.pos += 12;
        return;
      }
      case "float4":
      case "float8": {
        const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
        if (typeof n !== "number" || Number.isNaN(n)) throw new Bad("must be a number");
        const size = type === "float4" ? 4 : 8;
        this.ensure(4 + size);
        this.buf.writeInt32BE(size, this.pos);
        if (size === 4) this.buf.writeFloatBE(n, this.pos + 4);
        else this.buf.writeDoubleBE(n, this.pos + 4);
        this.pos += 4 + size;
        return;
      }
      case "bool": {
        if (typeof v !== "boolean") throw new Bad("must be a boolean");
        this.ensure(5);
        this.buf.writeInt32BE(1, this.pos);
        this.buf[this.pos + 4] = v ? 1 : 0;
        this.pos += 5;
        return;
      }
      case "timestamptz": {
        const ms = v instanceof Date ? v.getTime() : NaN;
        if (Number.isNaN(ms)) throw new Bad("must be a valid Date");
        this.ensure(12);
        this.buf.writeInt32BE(8, this.pos);
        this.buf.writeBigInt64BE(BigInt(ms - PG_EPOCH_MS) * 1000n, this.pos + 4);
        this.pos += 12;
        return;
      }
      case "jsonb": {
        // As pg does for a parameter: a string is sent as JSON text, anything else is JSON.stringify'd.
        const text = typeof v === "string" ? v : JSON.stringify(v);
        if (typeof text !== "string") throw new Bad("must be JSON");
        const n = Buffer.byteLength(text, "utf8");
        this.ensure(5 + n);
        this.buf.writeInt32BE(n + 1, this.pos);
        this.buf[this.pos + 4] = 1; // jsonb binary format version
        this.pos += 5 + this.buf.write(text, this.pos + 5, n, "utf8");
        return;
      }
      case "vector": {
        // pgvector: int16 dimensions, int16 unused, float4 each. Accepts "[1,2,3]" (its text form) or numbers.
        const xs: ArrayLike<number> =
          typeof v === "string" ? parseVector(v) : Array.isArray(v) || v instanceof Float32Array || v instanceof Float64Array ? v : [];
        if (xs.length === 0 || xs.length > 16_000) throw new Bad("must be a vector of 1 to 16,000 numbers");
        const size = 4 + 4 * xs.length;
        this.ensure(4 + size);
        this.buf.writeInt32BE(size, this.pos);
        this.buf.writeInt16BE(xs.length, this.pos + 4);
        this.buf.writeInt16BE(0, this.pos + 6);
        let at = this.pos + 8;
        for (let i = 0; i < xs.length; i++, at += 4) {
          const x = xs[i] as number;
          if (typeof x !== "number" || !Number.isFinite(x)) throw new Bad("must contain finite numbers only");
          this.buf.writeFloatBE(x, at);
        }
        this.pos = at;
        return;
      }
    }
  }
}

function parseVector(s: string): number[] {
  const t = s.trim();
  if (!t.startsWith("[") || !t.endsWith("]")) return [];
  return t
    .slice(1, -1)
    .split(",")
    .map((x) => (x.trim() === "" ? NaN : Number(x)));
}

/** COPY binary chunks for `rows`; throws a ValidationError naming the first bad value. */
/** The binary COPY stream of `rows`; a bad value is a ValidationError naming rows.<offset + i>.<key>. */
function* encode<Row>(spec: CopyTable<Row>, rows: Iterable<Row>, offset = 0): Generator<Buffer> {
  const w = new Writer();
  w.buf.set(HEADER, 0);
  w.pos = HEADER.length;
  const { keys, columns } = spec;
  const n = keys.length;
  let i = offset;
  for (const row of rows) {
    w.ensure(2);
    w.pos = w.buf.writeInt16BE(n, w.pos);
    for (let k = 0; k < n; k++) {
      const key = keys[k] as keyof Row & string;
      try {
        w.field((columns[k] as CopyColumn).type, row[key]);
      } catch (e) {
        if (e instanceof Bad) throw new ValidationError(`invalid row ${i}: ${key} ${e.message}`, [`rows.${i}.${key}`]);
        throw e;
      }
    }
    i++;
    if (w.pos >= CHUNK - 1024) yield w.take();
  }
  w.ensure(2);
  w.buf.set(TRAILER, w.pos);
  w.pos += 2;
  yield w.take();
}

/** Check every row the way COPY would, without a database (used before a fallback batch). */
function validate<Row>(spec: CopyTable<Row>, rows: readonly Row[], offset: number): void {
  for (const _ of encode(spec, rows, offset)) void _;
}

// --- engine support --------------------------------------------------------------------------------

const copySupport = new WeakMap<object, boolean>();

/** False on PGlite (COPY FROM STDIN ends its session over the socket); asked once per connection. */
export async function supportsCopyFromStdin(client: pg.ClientBase): Promise<boolean> {
  const known = copySupport.get(client);
  if (known !== undefined) return known;
  const { rows } = await client.query<{ v: string }>("SELECT version() AS v");
  const ok = !/PGlite|emscripten/i.test(rows[0]?.v ?? "");
  copySupport.set(client, ok);
  return ok;
}

/** COPY's CONTEXT says "COPY entities, line 5, column entity_type": the 0-based row of our batch. */
function rowOf(e: unknown): number | undefined {
  const where = (e as { where?: unknown }).where;
  const m = typeof where === "string" ? /COPY [^,]+, line (\d+)/.exec(where) : null;
  return m ? Number(m[1]) - 1 : undefined;
}

/**
 * Load `rows` into the table with one COPY (or, on the embedded engine, the table's fallback in batches).
 * Returns the number of rows written. Call it inside a transaction; on any error nothing of this call
 * remains once the transaction rolls back, and the error is a typed AppError.
 */
export async function copyRows<Row>(client: pg.ClientBase, spec: CopyTable<Row>, rows: Iterable<Row>, opts: { via?: "copy" | "insert" } = {}): Promise<number> {
  // `via: "insert"`: the table's fallback even where COPY works, e.g. for a role under row-level security,
  // which COPY FROM refuses ("COPY FROM not supported with row-level security").
  if (opts.via === "insert" || !(await supportsCopyFromStdin(client))) {
    if (!spec.fallback) throw new UnavailableError(`COPY FROM STDIN is not available on this engine and ${spec.table} has no fallback`);
    const all = Array.isArray(rows) ? (rows as readonly Row[]) : [...rows];
    for (let at = 0; at < all.length; at += spec.fallbackBatch) {
      const batch = all.slice(at, at + spec.fallbackBatch);
      validate(spec, batch, at);
      try {
        await spec.fallback(batch, client);
      } catch (e) {
        throw mapDbError(e);
      }
    }
    return all.length;
  }
  const copy = async () => {
    const stream = client.query(copyFrom(spec.sql));
    try {
      await pipeline(Readable.from(encode(spec, rows), { objectMode: false }), stream);
    } catch (e) {
      if (e instanceof AppError) throw e; // our own ValidationError from encoding (the COPY was abandoned)
      const mapped = mapDbError(e);
      const row = rowOf(e);
      if (mapped instanceof AppError && row !== undefined) mapped.message = `${mapped.message} (row ${row})`;
      throw mapped;
    }
    return stream.rowCount;
  };
  // A COPY stream keeps the connection to itself across round trips: not in pipeline mode (src/db/pool.ts).
  return client instanceof PreparingClient ? client.unpipelined(copy) : copy();
}
