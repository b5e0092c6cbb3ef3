/** Knowledge graph of one user: entities (upserted, counting mentions), relationships and mentions. */
import { z } from "zod";
import type { Db } from "../db/connect";
import { jsonRecord } from "../db/validate";
import { actingUser, runField, runParsed, type WorkspaceContext, word } from "./context";
import { entityNeighbours, type IUpsertEntityResult, insertMention, insertRelationship, mentionsOf, upsertEntity } from "./queries/knowledge.queries";

export type Entity = IUpsertEntityResult;

const entitySchema = z.object({
  entityType: word,
  name: z.string().trim().min(1).max(255),
  aliases: z.array(z.string().min(1).max(255)).max(100).optional(),
  description: z.string().max(10_000).optional(),
  metadata: jsonRecord.optional(),
});
export type EntityInput = z.input<typeof entitySchema>;

/**
 * Record that the acting user's content mentions an entity: the first time creates it, later times
 * increment mention_count and move last_seen_at (one atomic upsert on (user_id, entity_type, name)).
 */
export async function observeEntity(db: Db, ctx: WorkspaceContext, input: EntityInput): Promise<Entity> {
  return runParsed(db, ctx, "entity.observe", entitySchema, input, async (p, c) => {
    const [e] = await upsertEntity.run(
      {
        userId: actingUser(ctx),
        entityType: p.entityType,
        name: p.name,
        aliases: p.aliases ?? null,
        description: p.description ?? null,
        metadata: p.metadata ? JSON.stringify(p.metadata) : null,
      },
      c,
    );
    return e!;
  });
}

const relationshipSchema = z
  .object({
    sourceEntityId: z.uuid(),
    targetEntityId: z.uuid(),
    relationshipType: word,
    strength: z.number().min(0).max(1).optional(),
    context: z.string().max(10_000).optional(),
  })
  .refine((r) => r.sourceEntityId !== r.targetEntityId, { path: ["targetEntityId"], message: "must differ from sourceEntityId" });

/** A directed edge between two of the acting user's entities (someone else's entity is a ForbiddenError). */
export async function relateEntities(db: Db, ctx: WorkspaceContext, input: z.input<typeof relationshipSchema>) {
  return runParsed(db, ctx, "entity.relate", relationshipSchema, input, async (p, c) => {
    actingUser(ctx);
    const [r] = await insertRelationship.run({ ...p, strength: p.strength ?? null, context: p.context ?? null }, c);
    return r!;
  });
}

const mentionSchema = z.object({
  entityId: z.uuid(),
  sourceType: z.enum(["memory", "message", "email", "file"]),
  sourceId: z.uuid(),
  context: z.string().max(10_000).optional(),
  position: z.number().int().min(0).max(2_147_483_647).optional(),
});

export async function recordMention(db: Db, ctx: WorkspaceContext, input: z.input<typeof mentionSchema>) {
  return runParsed(db, ctx, "entity.mention", mentionSchema, input, async (p, c) => {
    actingUser(ctx);
    const [m] = await insertMention.run({ ...p, context: p.context ?? null, position: p.position ?? null }, c);
    return m!;
  });
}

/** Entities linked to one entity in either direction, strongest first. */
export async function neighboursOf(db: Db, ctx: WorkspaceContext, entityId: string) {
  return runField(db, ctx, "entity.neighbours", "entityId", z.uuid(), entityId, (id, c) => entityNeighbours.run({ entityId: id }, c), { readOnly: true });
}

export async function mentionsOfEntity(db: Db, ctx: WorkspaceContext, entityId: string) {
  return runField(db, ctx, "entity.mentions", "entityId", z.uuid(), entityId, (id, c) => mentionsOf.run({ entityId: id }, c), { readOnly: true });
}
