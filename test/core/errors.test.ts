import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  AppError,
  ConflictError,
  ForbiddenError,
  mapDbError,
  NotFoundError,
  StillReferencedError,
  TimeoutError,
  UnavailableError,
  ValidationError,
} from "../../src/db/errors";
import { parseInput } from "../../src/db/validate";
import { engineKind, useTestDb } from "../support/db";

const t = useTestDb();
const tx = (sql: string, params: unknown[] = []) => t.db.transaction((c) => c.query(sql, params));
const fail = (sql: string, params: unknown[] = []) =>
  tx(sql, params).then(
    () => expect.unreachable(`${sql} should fail`),
    (e) => e,
  );

beforeAll(async () => {
  await t.db.pool.query(`
    CREATE TABLE public.parents (id int PRIMARY KEY, email text NOT NULL CONSTRAINT parents_email_key UNIQUE);
    CREATE TABLE public.kids (
      id int PRIMARY KEY,
      parent_id int NOT NULL CONSTRAINT kids_parent_fk REFERENCES public.parents (id) ON DELETE RESTRICT,
      score numeric CONSTRAINT kids_score_range CHECK (score BETWEEN 0 AND 1),
      ref uuid
    );
    INSERT INTO public.parents VALUES (1, 'jane.doe@example.com');
    INSERT INTO public.kids VALUES (1, 1, 0.5, NULL);
  `);
});

const unchanged = async () => {
  const r = await t.db.pool.query("SELECT (SELECT count(*) FROM public.parents) AS p, (SELECT count(*) FROM public.kids) AS k");
  expect(r.rows[0]).toEqual({ p: "1", k: "1" });
};

describe("SQLSTATE -> typed error", () => {
  it("unique_violation -> ConflictError naming the constraint, without the duplicate value", async () => {
    const e = await fail("INSERT INTO public.parents VALUES (2, 'jane.doe@example.com')");
    expect(e).toBeInstanceOf(ConflictError);
    expect(e).toMatchObject({ code: "conflict", sqlstate: "23505", constraint: "parents_email_key", table: "public.parents" });
    expect(e.message).toContain("parents_email_key");
    expect(e.message).not.toContain("jane.doe");
    await unchanged();
  });

  it("foreign_key_violation on insert -> NotFoundError; on delete -> StillReferencedError", async () => {
    const missing = await fail("INSERT INTO public.kids (id, parent_id) VALUES (2, 999)");
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing.constraint).toBe("kids_parent_fk");
    const referenced = await fail("DELETE FROM public.parents WHERE id = 1");
    expect(referenced).toBeInstanceOf(StillReferencedError);
    expect(referenced).toBeInstanceOf(ConflictError);
    expect(referenced.constraint).toBe("kids_parent_fk");
    await unchanged();
  });

  it("check_violation -> ValidationError naming the constraint", async () => {
    const e = await fail("INSERT INTO public.kids (id, parent_id, score) VALUES (3, 1, 1.5)");
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.constraint).toBe("kids_score_range");
    expect(e.message).toContain('check constraint "kids_score_range" on public.kids');
    await unchanged();
  });

  it("not_null_violation -> ValidationError naming the column", async () => {
    const e = await fail("INSERT INTO public.parents (id, email) VALUES (5, NULL)");
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.fields).toEqual(["email"]);
    expect(e.message).toContain('column "email" on public.parents must not be null');
  });

  it("invalid_text_representation -> ValidationError without echoing the input", async () => {
    const e = await fail("INSERT INTO public.kids (id, parent_id, ref) VALUES (6, 1, $1)", ["123-45-6789"]);
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.sqlstate).toBe("22P02");
    expect(e.message).toContain("uuid");
    expect(e.message).not.toContain("123-45-6789");
  });

  it("NUL bytes and out-of-range numbers -> ValidationError", async () => {
    expect(await fail("INSERT INTO public.parents VALUES (7, $1)", ["a\u0000b"])).toBeInstanceOf(ValidationError);
    expect(await fail("INSERT INTO public.kids (id, parent_id) VALUES ($1, 1)", ["99999999999"])).toBeInstanceOf(ValidationError);
    await unchanged();
  });

  it("insufficient_privilege -> ForbiddenError", async () => {
    const e = await t.db.tenant("0190a000-0000-7000-8000-00000000000a", (c) => c.query("SELECT * FROM public.parents")).catch((x) => x);
    expect(e).toBeInstanceOf(ForbiddenError);
    expect(e.sqlstate).toBe("42501");
  });

  it.skipIf(engineKind === "embedded")("statement timeout -> TimeoutError (server engine; PGlite does not interrupt a running statement)", async () => {
    const e = await t.db
      .transaction(async (c) => {
        await c.query("SET LOCAL statement_timeout = '50ms'");
        await c.query("SELECT pg_sleep(2)");
      })
      .catch((x) => x);
    expect(e).toBeInstanceOf(TimeoutError);
    expect(e.sqlstate).toBe("57014");
  });

  it("connection refused -> UnavailableError", async () => {
    const { createPool } = await import("../../src/db/pool");
    const pool = createPool("postgres://postgres@127.0.0.1:1/postgres", {
      max: 1,
      connectTimeoutMs: 500,
      idleTimeoutMs: 0,
      statementTimeoutMs: 0,
    });
    const e = await pool.query("SELECT 1").catch((x) => mapDbError(x));
    await pool.end();
    expect(e).toBeInstanceOf(UnavailableError);
  });

  it("leaves errors that are not from the database untouched", () => {
    const bug = new TypeError("x is undefined");
    expect(mapDbError(bug)).toBe(bug);
  });
});

describe("parseInput (zod at the service boundary)", () => {
  const schema = z.object({ name: z.string().min(1).max(10), confidence: z.number().min(0).max(1) });

  it("returns parsed input when valid", () => {
    expect(parseInput(schema, { name: "x", confidence: 0.5 })).toEqual({ name: "x", confidence: 0.5 });
  });

  it("throws one ValidationError naming every bad field, without echoing values", () => {
    const e = (() => {
      try {
        parseInput(schema, { name: "SSN 123-45-6789 too long", confidence: 1.5 });
      } catch (x) {
        return x as ValidationError;
      }
    })();
    expect(e).toBeInstanceOf(ValidationError);
    expect(e).toBeInstanceOf(AppError);
    expect(e?.fields.sort()).toEqual(["confidence", "name"]);
    expect(e?.message).toMatch(/name: .*confidence: |confidence: .*name: /);
    expect(e?.message).not.toContain("123-45-6789");
  });
});
