/** Knowledge graph of one user: entities (upserted, counting mentions), relationships and mentions. */
import { z } from "zod";
import { many, one } from "../db/rows";
import { jsonRecord } from "../db/validate";
import { actingUser, operation, word } from "./context";
import type { IUpsertEntityResult } from "./queries/knowledge.queries";
import { sql } from "./sql";

export type Entity = IUpsertEntityResult;

const entitySchema = z.object({
  entityType: word,
  name: z.string().trim().min(1).max(255),
  aliases: z.array(z.string().min(1).max(255)).max(100).optional(),
  description: z.string().max(10_000).optional(),
  metadata: jsonRecord.optional(),
});
export type EntityInput = z.input<typeof entitySchema>;
const entityId = z.object({ entityId: z.uuid() });

/**
 * Record that the acting user's content mentions an entity: the first time creates it, later times
 * increment mention_count and move last_seen_at (one atomic upsert on (user_id, entity_type, name)).
 */
export const observeEntity = operation({
  name: "workspace.entity.observe",
  input: entitySchema,
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "own",
  audit: "none",
  run: (p, { c, ctx }): Promise<Entity> =>
    one(sql.knowledge.upsertEntity, { userId: actingUser(ctx), ...p, metadata: p.metadata && JSON.stringify(p.metadata) }, c),
});

/** A directed edge between two of the acting user's entities (someone else's entity is a ForbiddenError). */
export const relateEntities = operation({
  name: "workspace.entity.relate",
  input: z
    .object({
      sourceEntityId: z.uuid(),
      targetEntityId: z.uuid(),
      relationshipType: word,
      strength: z.number().min(0).max(1).optional(),
      context: z.string().max(10_000).optional(),
    })
    .refine((r) => r.sourceEntityId !== r.targetEntityId, { path: ["targetEntityId"], message: "must differ from sourceEntityId" }),
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "own",
  audit: "none",
  run: (p, { c }) => one(sql.knowledge.insertRelationship, p, c),
});

/** Where an entity was mentioned (a memory, message, email or file of the acting user). */
export const recordMention = operation({
  name: "workspace.entity.mention",
  input: entityId.extend({
    sourceType: z.enum(["memory", "message", "email", "file"]),
    sourceId: z.uuid(),
    context: z.string().max(10_000).optional(),
    position: z.number().int().min(0).max(2_147_483_647).optional(),
  }),
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "own",
  audit: "none",
  run: (p, { c }) => one(sql.knowledge.insertMention, p, c),
});

/** Entities linked to one entity in either direction, strongest first. */
export const entityNeighbours = operation({
  name: "workspace.entity.neighbours",
  input: entityId,
  kind: "read",
  context: "tenant",
  reveals: "own",
  audit: "none",
  oneStatement: true,
  run: (p, { c }) => many(sql.knowledge.entityNeighbours, p, c),
});

/** Where an entity was mentioned, newest first. */
export const mentionsOf = operation({
  name: "workspace.entity.mentions",
  input: entityId,
  kind: "read",
  context: "tenant",
  reveals: "own",
  audit: "none",
  oneStatement: true,
  run: (p, { c }) => many(sql.knowledge.mentionsOf, p, c),
});
