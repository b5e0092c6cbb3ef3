/**
 * The versioned clause library. A lineage is a stable code; each revision is a new row linked to its
 * predecessor, and exactly one version per code is current. Publishing is optimistic: the editor names
 * the version they revised (basedOnVersion); if someone published in between, they get a ConflictError
 * and nothing changes. Two racing publishers on one clause: one wins, the other gets ConflictError.
 */
import { z } from "zod";
import type { Db } from "../db/connect";
import { ConflictError, NotFoundError } from "../db/errors";
import { jsonRecord, parseInput } from "../db/validate";
import { recordAudit, type WillsContext } from "./audit";
import {
  type clause_category,
  clauseHistory,
  currentByCode,
  type IInsertFirstVersionResult,
  insertFirstVersion,
  latestVersionOfCode,
  listCurrent,
  publishRevision as publishRevisionQuery,
} from "./queries/clauses.queries";

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
const willTypes = z.array(z.enum(WILL_TYPES)).min(1).refine((a) => new Set(a).size === a.length, "must not repeat a will type");

const createSchema = z.object({
  code,
  title,
  body,
  variablesSchema: variablesSchema.default({ type: "object", properties: {} }),
  category: z.enum(CLAUSE_CATEGORIES),
  willTypes,
});

/** Start a lineage: version 1, current. A code that exists already is a ConflictError. */
export async function createClause(db: Db, ctx: WillsContext, input: z.input<typeof createSchema>): Promise<Clause> {
  const p = parseInput(createSchema, input, "clause");
  return db.transaction(
    async (c) => {
      const [row] = await insertFirstVersion.run(
        { ...p, variablesSchema: JSON.stringify(p.variablesSchema), willTypes: JSON.stringify(p.willTypes) },
        c,
      );
      const clause = row as Clause;
      await recordAudit(c, ctx, {
        action: "clause.created",
        resourceType: "clause",
        resourceId: clause.id,
        details: { code: clause.code, version: clause.version },
      });
      return clause;
    },
    { asApp: true },
  );
}

const reviseSchema = z.object({
  code,
  basedOnVersion: z.number().int().min(1).max(2_147_483_647),
  body,
  title: title.optional(),
  variablesSchema: variablesSchema.optional(),
  category: z.enum(CLAUSE_CATEGORIES).optional(),
  willTypes: willTypes.optional(),
});

/** Publish a new version of `code`, revising `basedOnVersion`, and make it current atomically. */
export async function publishRevision(db: Db, ctx: WillsContext, input: z.input<typeof reviseSchema>): Promise<Clause> {
  const p = parseInput(reviseSchema, input, "revision");
  return db.transaction(
    async (c) => {
      const [row] = await publishRevisionQuery.run(
        {
          code: p.code,
          basedOnVersion: p.basedOnVersion,
          body: p.body,
          title: p.title ?? null,
          variablesSchema: p.variablesSchema ? JSON.stringify(p.variablesSchema) : null,
          category: p.category ?? null,
          willTypes: p.willTypes ? JSON.stringify(p.willTypes) : null,
        },
        c,
      );
      if (!row) {
        const [latest] = await latestVersionOfCode.run({ code: p.code }, c);
        if (latest?.version == null) throw new NotFoundError(`clause "${p.code}" does not exist`);
        throw new ConflictError(
          `clause "${p.code}" is at version ${latest.version}, not ${p.basedOnVersion}: it was revised concurrently; reload and retry`,
        );
      }
      await recordAudit(c, ctx, {
        action: "clause.published",
        resourceType: "clause",
        resourceId: row.id,
        details: { code: row.code, version: row.version, previous_version_id: row.previous_version_id },
      });
      return row;
    },
    { asApp: true },
  );
}

export async function currentClause(db: Db, clauseCode: string): Promise<Clause> {
  const c0 = parseInput(code, clauseCode, "code");
  const [row] = await db.transaction((c) => currentByCode.run({ code: c0 }, c), { asApp: true, readOnly: true });
  if (!row) throw new NotFoundError(`clause "${c0}" does not exist`);
  return row;
}

/** Current clauses, optionally filtered by category and by a will type they apply to. */
export async function listCurrentClauses(db: Db, filter: { category?: ClauseCategory; willType?: WillType } = {}): Promise<Clause[]> {
  const f = parseInput(
    z.object({ category: z.enum(CLAUSE_CATEGORIES).optional(), willType: z.enum(WILL_TYPES).optional() }),
    filter,
    "filter",
  );
  return db.transaction((c) => listCurrent.run({ category: f.category ?? null, willType: f.willType ?? null }, c), {
    asApp: true,
    readOnly: true,
  });
}

/** All versions of a clause, newest first, walked along previous_version_id. */
export async function clauseHistoryOf(db: Db, clauseCode: string) {
  const c0 = parseInput(code, clauseCode, "code");
  const rows = await db.transaction((c) => clauseHistory.run({ code: c0 }, c), { asApp: true, readOnly: true });
  if (rows.length === 0) throw new NotFoundError(`clause "${c0}" does not exist`);
  return rows;
}
