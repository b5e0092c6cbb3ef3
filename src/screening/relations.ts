/** Relations between entities: link, direct neighbours, and connections to depth N (recursive CTE). */
import { z } from "zod";
import type { Db } from "../db/connect";
import { type RequestContext, recordEvent, runParsed } from "./context";
import { connections as connectionsQuery, type IInsertRelationResult, insertRelation, neighbours as neighboursQuery } from "./queries/relations.queries";

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

export function linkEntities(db: Db, ctx: RequestContext, input: z.input<typeof linkSchema>): Promise<Relation> {
  return runParsed(db, ctx, "relation.create", linkSchema, input, async (p, c) => {
    const [row] = await insertRelation.run(p, c);
    const rel = row as Relation;
    await recordEvent(c, db, ctx, "relation_created", { entityId: p.fromEntityId, details: { to: p.toEntityId, type: p.relationType } });
    return rel;
  });
}

export function neighbours(db: Db, ctx: RequestContext, entityId: string) {
  return runParsed(db, ctx, "relation.neighbours", z.object({ entityId: z.uuid() }), { entityId }, (p, c) => neighboursQuery.run(p, c), {
    readOnly: true,
  });
}

/** Every entity within maxDepth hops (1..6), with its shortest distance and best path confidence. */
export function connections(db: Db, ctx: RequestContext, entityId: string, maxDepth = 2) {
  return runParsed(
    db,
    ctx,
    "relation.connections",
    z.object({ entityId: z.uuid(), maxDepth: z.number().int().min(1).max(6) }),
    { entityId, maxDepth },
    (p, c) => connectionsQuery.run(p, c),
    { readOnly: true },
  );
}
