/**
 * Issue 19: retiring a clause from the library (retireClause). After retirement no version is current
 * (currentClause is a NotFoundError saying so), every version stays readable, the retirement is audited, and
 * it is final: publishing again is a ConflictError, in the service and for hand-written SQL as `app`.
 */
import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../../src/db/errors";
import { auditForResource, clauseHistory, createClause, currentClause, listCurrentClauses, publishRevision, retireClause, willsContext } from "../../src/wills";
import { describeServer, SERVER_ONLY_REASON, useTestDb } from "../support/db";

const t = useTestDb();
const ctx = willsContext({ actorId: crypto.randomUUID(), actorType: "staff", correlationId: crypto.randomUUID() });
const day = 86_400_000;
let n = 0;
const uniqueCode = (p: string) => `${p}_${++n}_${crypto.randomBytes(3).toString("hex")}`;

const newClause = (code: string) =>
  createClause(t.db, ctx, {
    code,
    title: "Guardian of minor children",
    body: "I appoint {{guardian}} as guardian.",
    category: "guardian",
    willTypes: ["single"],
  });

/** A clause at version 2 (created, then revised once). */
async function clauseAtV2(prefix: string) {
  const code = uniqueCode(prefix);
  const v1 = await newClause(code);
  const v2 = await publishRevision(t.db, ctx, { code, basedOnVersion: 1, body: "I nominate {{guardian}} as guardian." });
  return { code, v1, v2 };
}

/** Every version of a code as stored, oldest first. */
const versions = async (code: string) =>
  (await t.db.pool.query("SELECT * FROM wills.clauses WHERE code = $1 ORDER BY version", [code])).rows as Record<string, unknown>[];

const counts = async () =>
  (await t.db.pool.query("SELECT (SELECT count(*) FROM wills.clauses)::int AS clauses, (SELECT count(*) FROM wills.audit_logs)::int AS audits")).rows[0];

const newestAudit = async () =>
  (await t.db.pool.query("SELECT action, resource_type, details FROM wills.audit_logs ORDER BY created_at DESC, id DESC LIMIT 1")).rows[0];

/** Run hand-written SQL as `app` (or as the owner) and return its rows, or what it threw. */
const asApp = (sql: string, params: unknown[] = [], app = true) =>
  t.db
    .transaction((c) => c.query(sql, params), { asApp: app })
    .then((r) => r.rows)
    .catch((e) => e);

describe("retiring a clause", () => {
  it("leaves no current version, keeps every version as it was, and is audited", async () => {
    const { code, v1, v2 } = await clauseAtV2("retire");
    const before = await versions(code);

    const retired = await retireClause(t.db, ctx, { code, basedOnVersion: 2 });
    expect(retired).toMatchObject({ id: v2.id, version: 2, is_current: false, body: v2.body });
    expect(retired.retired_at).toBeInstanceOf(Date);

    // No current version: currentClause says the clause was retired, and the list no longer offers it.
    const err = await currentClause(t.db, ctx, { code }).catch((e) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe(`clause "${code}" was retired at version 2: it has no current version (clauseHistory lists every version)`);
    expect((await listCurrentClauses(t.db, ctx, { category: "guardian" })).map((c) => c.code)).not.toContain(code);

    // The history is intact and readable: both versions, the newest carrying the retirement.
    const history = await clauseHistory(t.db, ctx, { code });
    expect(history.map((h) => [h.id, h.version, h.is_current, h.retired_at])).toEqual([
      [v2.id, 2, false, retired.retired_at],
      [v1.id, 1, false, null],
    ]);
    // Stored rows: only is_current, retired_at and updated_at of version 2 changed; ids, bodies and the chain did not.
    const after = await versions(code);
    const unchanged = (rows: Record<string, unknown>[]) => rows.map(({ is_current: _c, retired_at: _r, updated_at: _u, ...rest }) => rest);
    expect(unchanged(after)).toEqual(unchanged(before));
    expect(after.map((r) => [r.is_current, r.retired_at !== null])).toEqual([
      [false, false],
      [false, true],
    ]);

    // Audited like every wills change: one clause.retired row about the retired version, by the acting staff member.
    const audit = await auditForResource(t.db, ctx, {
      resourceType: "clause",
      resourceId: v2.id,
      from: new Date(Date.now() - day),
      to: new Date(Date.now() + day),
    });
    expect(audit.map((a) => a.action)).toEqual(["clause.published", "clause.retired"]);
    expect(audit[1]).toMatchObject({
      actor_id: ctx.actorId,
      actor_type: "staff",
      correlation_id: ctx.correlationId,
      details: { code, version: 2, retired_at: retired.retired_at?.toISOString() },
    });
  });

  it("is final: publishing a new version, retiring again or creating the code again is a ConflictError, and changes nothing but the failure records", async () => {
    const { code } = await clauseAtV2("final");
    await retireClause(t.db, ctx, { code, basedOnVersion: 2 });
    const stored = await versions(code);
    const before = await counts();

    const publish = await publishRevision(t.db, ctx, { code, basedOnVersion: 2, body: "revived" }).catch((e) => e);
    expect(publish).toBeInstanceOf(ConflictError);
    expect(publish.message).toBe(`clause "${code}" was retired at version 2: retirement is final; use the text again under a new code (createClause)`);
    expect(await newestAudit()).toMatchObject({ action: "clause.failed", details: { operation: "wills.clause.publish", code: "conflict" } });

    const again = await retireClause(t.db, ctx, { code, basedOnVersion: 2 }).catch((e) => e);
    expect(again).toBeInstanceOf(ConflictError);
    expect(again.message).toContain("was retired at version 2");

    const recreate = await newClause(code).catch((e) => e);
    expect(recreate).toBeInstanceOf(ConflictError);
    expect(recreate.constraint).toBe("clauses_code_version_key");

    expect(await versions(code)).toEqual(stored);
    expect(await counts()).toEqual({ ...before, audits: before.audits + 3 });
  });

  it("a retirement decided on a version revised since is a ConflictError; an unknown clause is NotFound; the clause stays current", async () => {
    const { code, v2 } = await clauseAtV2("stale");
    const stale = await retireClause(t.db, ctx, { code, basedOnVersion: 1 }).catch((e) => e);
    expect(stale).toBeInstanceOf(ConflictError);
    expect(stale.message).toContain("is at version 2, not 1");
    expect(await newestAudit()).toMatchObject({ action: "clause.failed", details: { operation: "wills.clause.retire", code: "conflict" } });
    expect((await currentClause(t.db, ctx, { code })).id).toBe(v2.id);

    const unknown = await retireClause(t.db, ctx, { code: "no_such_clause", basedOnVersion: 1 }).catch((e) => e);
    expect(unknown).toBeInstanceOf(NotFoundError);
    expect(unknown.message).toBe('clause "no_such_clause" does not exist');
  });

  it("an unknown clause is still 'does not exist' for currentClause and clauseHistory", async () => {
    await expect(currentClause(t.db, ctx, { code: "never_created" })).rejects.toThrow('clause "never_created" does not exist');
    await expect(clauseHistory(t.db, ctx, { code: "never_created" })).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe("the database holds the same line for hand-written SQL", () => {
  it("as app: retired_at is written only by wills.retire_clause, which also checks the version", async () => {
    const { code } = await clauseAtV2("grants");
    expect(await asApp("UPDATE wills.clauses SET retired_at = now() WHERE code = $1", [code])).toBeInstanceOf(ForbiddenError);
    const born = await asApp(
      `INSERT INTO wills.clauses (code, version, title, body, category, will_types, is_current, retired_at)
       VALUES ($1, 1, 't', 'b', 'general', '["single"]', false, now())`,
      [uniqueCode("born_retired")],
    );
    expect(born).toBeInstanceOf(ForbiddenError);
    // The function is the way: it refuses a version that is not current, then retires the current one.
    expect(await asApp("SELECT version FROM wills.retire_clause($1, 1)", [code])).toEqual([]);
    expect(await asApp("SELECT version FROM wills.retire_clause($1, 2)", [code])).toEqual([{ version: 2 }]);
    // Once retired, app cannot take it back.
    expect(await asApp("UPDATE wills.clauses SET retired_at = NULL WHERE code = $1", [code])).toBeInstanceOf(ForbiddenError);
  });

  it("as app: no version of a retired clause becomes current again, by flipping an old one back or inserting a new one", async () => {
    const { code, v2 } = await clauseAtV2("revive");
    await retireClause(t.db, ctx, { code, basedOnVersion: 2 });
    const flipped = await asApp("UPDATE wills.clauses SET is_current = true WHERE code = $1 AND version = 1", [code]);
    expect(flipped).toBeInstanceOf(ConflictError);
    expect(flipped.constraint).toBe("clauses_one_current_or_retired_per_code");
    const inserted = await asApp(
      `INSERT INTO wills.clauses (code, version, previous_version_id, title, body, category, will_types)
       VALUES ($1, 3, $2, 't', 'revived by hand', 'general', '["single"]')`,
      [code, v2.id],
    );
    expect(inserted).toBeInstanceOf(ConflictError);
    expect(inserted.constraint).toBe("clauses_one_current_or_retired_per_code");
    expect((await versions(code)).map((r) => [r.version, r.is_current])).toEqual([
      [1, false],
      [2, false],
    ]);
  });

  it("as app: a clause ends only by retirement (its current version cannot just stop being current); as owner: a retired version is never current", async () => {
    const { code } = await clauseAtV2("silent_end");
    const silent = await asApp("UPDATE wills.clauses SET is_current = false WHERE code = $1 AND is_current", [code]);
    expect(silent).toBeInstanceOf(ValidationError);
    expect(silent.constraint).toBe("clauses_end_by_retirement");
    const owner = await asApp("UPDATE wills.clauses SET retired_at = now() WHERE code = $1 AND is_current", [code], false);
    expect(owner).toBeInstanceOf(ValidationError);
    expect(owner.constraint).toBe("clauses_retired_not_current");
    expect((await currentClause(t.db, ctx, { code })).version).toBe(2);
  });

  it("wills and consents referencing a version stay valid: nothing but the chain references clauses, and every version still resolves by id", async () => {
    const { rows } = await t.db.pool.query(
      "SELECT conrelid::regclass::text AS referencing, conname FROM pg_constraint WHERE contype = 'f' AND confrelid = 'wills.clauses'::regclass",
    );
    expect(rows).toEqual([{ referencing: "wills.clauses", conname: "clauses_previous_version_fk" }]);
    const { code, v1, v2 } = await clauseAtV2("referenced");
    await retireClause(t.db, ctx, { code, basedOnVersion: 2 });
    expect(await asApp("SELECT version, body FROM wills.clauses WHERE id = ANY($1) ORDER BY version", [[v1.id, v2.id]])).toEqual([
      { version: 1, body: v1.body },
      { version: 2, body: v2.body },
    ]);
    expect(await asApp("DELETE FROM wills.clauses WHERE code = $1", [code])).toBeInstanceOf(ForbiddenError);
  });
});

describeServer(`retirement racing a revision (server engine; ${SERVER_ONLY_REASON})`, () => {
  it("retiring and publishing version 1 at once: exactly one wins, the other gets ConflictError, and the clause is either retired or at version 2", async () => {
    for (let round = 0; round < 10; round++) {
      const code = uniqueCode("race");
      await newClause(code);
      const [retire, publish] = await Promise.allSettled([
        retireClause(t.db, ctx, { code, basedOnVersion: 1 }),
        publishRevision(t.db, ctx, { code, basedOnVersion: 1, body: "racer" }),
      ]);
      const won = [retire, publish].filter((r) => r.status === "fulfilled");
      const lost = [retire, publish].filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(won).toHaveLength(1);
      expect(lost[0]?.reason).toBeInstanceOf(ConflictError);
      const rows = (await versions(code)).map((r) => [r.version, r.is_current, r.retired_at !== null]);
      expect(rows).toEqual(
        retire.status === "fulfilled"
          ? [[1, false, true]]
          : [
              [1, false, false],
              [2, true, false],
            ],
      );
    }
  });
});
