/** Relations between entities: link, direct neighbours, and connections to depth N (recursive CTE). */
import { z } from "zod";
import { many, one } from "../db/rows";
import { operation, recordEvent } from "./context";
import type { IInsertRelationResult } from "./queries/relations.queries";
import { sql } from "./sql";

export type Relation = IInsertRelationResult;

const linkSchema = z
  .object({
    fromEntityId: z.uuid(),
    toEntityId: z.uuid(),
    relationType: z.string().regex(/^[a-z][a-z_]{0,99}$/, "must be snake_case, e.g. employer, household, business_partner"),
    confidenceScore: z.number().min(0).max(1),
    discoveredInScreening: z.uuid().nullable().default(null),
  })
  .refine((r) => r.fromEntityId !== r.toEntityId, { message: "an entity cannot relate to itself", path: ["toEntityId"] });

/** Record a relation between two entities. */
export const linkEntities = operation({
  name: "screening.relation.create",
  input: linkSchema,
  kind: "write",
  affects: "tenant",
  context: "tenant",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx, db }) {
    const rel = await one(sql.relations.insertRelation, p, c);
    await recordEvent(c, db, ctx, "relation_created", { entityId: p.fromEntityId, details: { to: p.toEntityId, type: p.relationType } });
    return rel;
  },
});

/** The entities directly related to one entity, strongest first. */
export const neighbours = operation({
  name: "screening.relation.neighbours",
  input: z.object({ entityId: z.uuid() }),
  kind: "read",
  context: "tenant",
  reveals: "personal",
  audit: "access",
  run: (p, { c }) => many(sql.relations.neighbours, p, c),
  accessed: (p) => ({ subject: p.entityId }),
});

/** Every entity within maxDepth hops (1..6), with its shortest distance and best path confidence. */
export const connections = operation({
  name: "screening.relation.connections",
  input: z.object({ entityId: z.uuid(), maxDepth: z.number().int().min(1).max(6).default(2) }),
  kind: "read",
  context: "tenant",
  reveals: "personal",
  audit: "access",
  run: (p, { c }) => many(sql.relations.connections, p, c),
  accessed: (p) => ({ subject: p.entityId, details: { max_depth: p.maxDepth } }),
});
