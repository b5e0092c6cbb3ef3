/**
 * Relations between entities, each the property of the tenant that discovered it (tenant_id, forced RLS):
 * link, direct neighbours, and connections to depth N (recursive CTE). Both ends must be entities the tenant
 * uses and has not deleted; graph reads skip entities it deleted.
 */
import { z } from "zod";
import { NotFoundError } from "../db/errors";
import { many, one } from "../db/rows";
import { operation, recordEvent } from "./context";
import type { IInsertRelationResult } from "./queries/relations.queries";
import { sql } from "./sql";

export type Relation = IInsertRelationResult;

/** The ids a graph read revealed, for its one data_accessed event (ids only; at most 1,000, then a count). */
const ids = (rows: { entity_id: string }[]) => (rows.length <= 1000 ? rows.map((r) => r.entity_id) : { count: rows.length });

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
    const live = await many(sql.entities.liveLinks, { tenantId: ctx.tenantId, entityIds: [p.fromEntityId, p.toEntityId] }, c);
    for (const field of ["fromEntityId", "toEntityId"] as const) {
      if (!live.some((l) => l.entity_id === p[field])) throw new NotFoundError(`${field}: entity not found`);
    }
    const rel = await one(sql.relations.insertRelation, { tenantId: ctx.tenantId, ...p }, c);
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
  run: (p, { c, ctx }) => many(sql.relations.neighbours, { tenantId: ctx.tenantId, ...p }, c),
  accessed: (p, rows) => ({ subject: p.entityId, details: { related: ids(rows) } }),
});

/** Every entity within maxDepth hops (1..6), with its shortest distance and best path confidence. */
export const connections = operation({
  name: "screening.relation.connections",
  input: z.object({ entityId: z.uuid(), maxDepth: z.number().int().min(1).max(6).default(2) }),
  kind: "read",
  context: "tenant",
  reveals: "personal",
  audit: "access",
  run: (p, { c, ctx }) => many(sql.relations.connections, { tenantId: ctx.tenantId, ...p }, c),
  accessed: (p, rows) => ({ subject: p.entityId, details: { max_depth: p.maxDepth, related: ids(rows) } }),
});
