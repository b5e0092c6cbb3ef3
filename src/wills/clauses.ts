/**
 * The versioned clause library. A lineage is a stable code; each revision is a new row linked to its
 * predecessor, and exactly one version per code is current until the clause is retired. Publishing is
 * optimistic: the editor names the version they revised (basedOnVersion); if someone published in between,
 * they get a ConflictError and nothing changes. Two racing publishers on one clause: one wins, the other
 * gets ConflictError. Retiring names the version too, so a retirement decided on a version someone has
 * since revised is a ConflictError as well.
 *
 * Retirement is final: a retired clause has no current version and never gets one again. Publishing on it
 * is refused (ConflictError), because an editor who loaded the clause before it was retired would otherwise
 * revive it without knowing; text worth using again starts a new lineage under a new code. Every version
 * stays, readable through clauseHistory, so wills drafted with them keep resolving.
 */
import type pg from "pg";
import { z } from "zod";
import { type AppError, ConflictError, NotFoundError } from "../db/errors";
import { many, maybeOne, one } from "../db/rows";
import { jsonRecord } from "../db/validate";
import { operation, recordAudit } from "./context";
import type { clause_category, IInsertFirstVersionResult } from "./queries/clauses.queries";
import { sql } from "./sql";

export type Clause = IInsertFirstVersionResult;
export type ClauseCategory = clause_category;

export const CLAUSE_CATEGORIES = [
  "revocation",
  "executor",
  "guardian",
  "bequest",
  "residue",
  "trust",
  "usufruct",
  "funeral",
  "attestation",
  "general",
] as const satisfies readonly ClauseCategory[];
export const WILL_TYPES = ["single", "joint", "mirror", "trust", "living"] as const;
export type WillType = (typeof WILL_TYPES)[number];

const code = z.string().regex(/^[a-z][a-z0-9_]{1,63}$/, "must be 2-64 chars of a-z, 0-9, _ starting with a letter");
const title = z.string().min(1).max(200);
const body = z.string().min(1).max(50_000);
const variablesSchema = jsonRecord.refine((s) => s.type === undefined || s.type === "object", "must be a JSON Schema for an object");
const willTypes = z
  .array(z.enum(WILL_TYPES))
  .min(1)
  .refine((a) => new Set(a).size === a.length, "must not repeat a will type");

const codeInput = z.object({ code });
const version = z.number().int().min(1).max(2_147_483_647);

/** Start a lineage: version 1, current. A code that exists already is a ConflictError. */
export const createClause = operation({
  name: "wills.clause.create",
  input: z.object({
    code,
    title,
    body,
    variablesSchema: variablesSchema.default({ type: "object", properties: {} }),
    category: z.enum(CLAUSE_CATEGORIES),
    willTypes,
  }),
  kind: "write",
  affects: "tenant",
  context: "actor",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx }): Promise<Clause> {
    const clause = await one(
      sql.clauses.insertFirstVersion,
      { ...p, variablesSchema: JSON.stringify(p.variablesSchema), willTypes: JSON.stringify(p.willTypes) },
      c,
    );
    await recordAudit(c, ctx, {
      action: "clause.created",
      resourceType: "clause",
      resourceId: clause.id,
      details: { code: clause.code, version: clause.version },
    });
    return clause;
  },
});

/** Why publishing or retiring `code` on `basedOnVersion` changed no row: the typed error to throw. */
async function whyUnchanged(c: pg.ClientBase, p: { code: string; basedOnVersion: number }): Promise<AppError> {
  const latest = await one(sql.clauses.latestVersionOfCode, p, c);
  if (latest.version === null) return new NotFoundError(`clause "${p.code}" does not exist`);
  if (latest.retired_version !== null)
    return new ConflictError(
      `clause "${p.code}" was retired at version ${latest.retired_version}: retirement is final; use the text again under a new code (createClause)`,
    );
  return new ConflictError(`clause "${p.code}" is at version ${latest.version}, not ${p.basedOnVersion}: it was revised concurrently; reload and retry`);
}

/** Publish a new version of `code`, revising `basedOnVersion`, and make it current atomically. */
export const publishRevision = operation({
  name: "wills.clause.publish",
  input: z.object({
    code,
    basedOnVersion: version,
    body,
    title: title.optional(),
    variablesSchema: variablesSchema.optional(),
    category: z.enum(CLAUSE_CATEGORIES).optional(),
    willTypes: willTypes.optional(),
  }),
  kind: "write",
  affects: "tenant",
  context: "actor",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx }): Promise<Clause> {
    const row = await maybeOne(
      sql.clauses.publishRevision,
      { ...p, variablesSchema: p.variablesSchema && JSON.stringify(p.variablesSchema), willTypes: p.willTypes && JSON.stringify(p.willTypes) },
      c,
    );
    if (!row) throw await whyUnchanged(c, p);
    await recordAudit(c, ctx, {
      action: "clause.published",
      resourceType: "clause",
      resourceId: row.id,
      details: { code: row.code, version: row.version, previous_version_id: row.previous_version_id },
    });
    return row;
  },
});

/**
 * Retire clause `code`, whose current version the caller saw is `basedOnVersion`: from then on it has no
 * current version (currentClause is a NotFoundError saying so, listCurrentClauses leaves it out) and never
 * gets one again. Every version stays (clauseHistory). Who may retire is who may publish: any actor.
 * A clause retired already, or revised since that version, is a ConflictError; an unknown code NotFound.
 */
export const retireClause = operation({
  name: "wills.clause.retire",
  input: codeInput.extend({ basedOnVersion: version }),
  kind: "write",
  affects: "tenant",
  context: "actor",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx }): Promise<Clause> {
    const row = await maybeOne(sql.clauses.retireClause, p, c);
    if (!row) throw await whyUnchanged(c, p);
    await recordAudit(c, ctx, {
      action: "clause.retired",
      resourceType: "clause",
      resourceId: row.id,
      details: { code: row.code, version: row.version, retired_at: row.retired_at?.toISOString() ?? null },
    });
    return row;
  },
});

/**
 * The current version of a clause. A retired clause has none: NotFoundError, saying it was retired (the
 * version asked for does not exist, as for an unknown code; a ConflictError would invite a retry that can
 * never succeed). Its versions stay readable through clauseHistory.
 */
export const currentClause = operation({
  name: "wills.clause.current",
  input: codeInput,
  kind: "read",
  context: "actor",
  reveals: "nothing",
  audit: "none",
  oneStatement: true,
  async run(p, { c }): Promise<Clause> {
    const row = await one(sql.clauses.currentOrRetiredByCode, p, c, `clause "${p.code}" does not exist`);
    if (row.retired_at)
      throw new NotFoundError(`clause "${p.code}" was retired at version ${row.version}: it has no current version (clauseHistory lists every version)`);
    return row;
  },
});

/** Current clauses, optionally filtered by category and by a will type they apply to. */
export const listCurrentClauses = operation({
  name: "wills.clause.list",
  input: z.object({ category: z.enum(CLAUSE_CATEGORIES).optional(), willType: z.enum(WILL_TYPES).optional() }),
  kind: "read",
  context: "actor",
  reveals: "nothing",
  audit: "none",
  oneStatement: true,
  run: (p, { c }): Promise<Clause[]> => many(sql.clauses.listCurrent, p, c),
});

/** All versions of a clause, newest first, walked along previous_version_id; a retired clause's too (its newest carries retired_at). */
export const clauseHistory = operation({
  name: "wills.clause.history",
  input: codeInput,
  kind: "read",
  context: "actor",
  reveals: "nothing",
  audit: "none",
  oneStatement: true,
  async run(p, { c }) {
    const rows = await many(sql.clauses.clauseHistory, p, c);
    if (rows.length === 0) throw new NotFoundError(`clause "${p.code}" does not exist`);
    return rows;
  },
});
