/**
 * Entities with encrypted canonical identifiers and blind indexes. The same identifier of one kind can
 * never create two entities (PRIMARY KEY (identifier_kind, blind_index)): the loser of a race, or a
 * repeat, gets a ConflictError and nothing is written.
 */
import { z } from "zod";
import type { Db } from "../db/connect";
import { blindIndex } from "../db/crypto";
import { NotFoundError } from "../db/errors";
import { blindIndexKey, keyring, type RequestContext, recordEvent, runParsed } from "./context";
import {
  entityById,
  entityByIdentifier,
  eraseEntity as eraseQuery,
  type entity_type,
  insertEntity,
  insertIdentifiers,
  newEntityId,
  softDeleteEntity,
} from "./queries/entities.queries";

export const IDENTIFIER_KINDS = ["ssn", "ein", "passport", "national_id", "drivers_license", "tax_id", "duns", "lei", "address_key"] as const;
export type IdentifierKind = (typeof IDENTIFIER_KINDS)[number];
export type EntityType = entity_type;

/** Normalise an identifier so formatting does not defeat duplicate detection. */
export function normaliseIdentifier(kind: IdentifierKind, value: string): string {
  const v = value.normalize("NFKC").trim();
  if (kind === "ssn" || kind === "ein" || kind === "duns") return v.replace(/[\s-]/g, "");
  return v.toUpperCase().replace(/\s+/g, " ");
}

const identifierValue = z.string().min(1).max(200).refine((v) => !v.includes("\u0000"), "must not contain NUL");
const identifiers = z
  .partialRecord(z.enum(IDENTIFIER_KINDS), identifierValue)
  .superRefine((ids, ctx) => {
    if (ids.ssn !== undefined && !/^\d{9}$/.test(normaliseIdentifier("ssn", ids.ssn))) ctx.addIssue({ code: "custom", path: ["ssn"], message: "must be 9 digits" });
    if (ids.ein !== undefined && !/^\d{9}$/.test(normaliseIdentifier("ein", ids.ein))) ctx.addIssue({ code: "custom", path: ["ein"], message: "must be 9 digits" });
  });

export interface Entity {
  entity_id: string;
  entity_type: EntityType;
  identifiers: Partial<Record<IdentifierKind, string>>;
  deleted_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** AAD binding an entity's identifier ciphertext to its row. */
export const identifiersAad = (entityId: string) => `screening.entities.canonical_identifiers:${entityId}`;

function decode(db: Db, row: { entity_id: string; entity_type: EntityType; canonical_identifiers: Buffer; deleted_at: Date | null; created_at: Date; updated_at: Date }): Entity {
  const { canonical_identifiers, ...rest } = row;
  return { ...rest, identifiers: JSON.parse(keyring(db.config).decryptString(canonical_identifiers, identifiersAad(row.entity_id))) };
}

/** What createEntity (and each element of bulkCreateEntities) takes. */
export const entityInput = z.object({ entityType: z.enum(["individual", "organization", "address"]), identifiers: identifiers.default({}) });

/** Every identifier of an entity, normalised (see normaliseIdentifier). */
export function normaliseIdentifiers(ids: Partial<Record<IdentifierKind, string>>): Partial<Record<IdentifierKind, string>> {
  return Object.fromEntries(Object.entries(ids).map(([k, v]) => [k, normaliseIdentifier(k as IdentifierKind, v as string)]));
}

export function createEntity(db: Db, ctx: RequestContext, input: z.input<typeof entityInput>): Promise<Entity> {
  return runParsed(db, ctx, "entity.create", entityInput, input, async (p, c) => {
    const normalised = normaliseIdentifiers(p.identifiers);
    const [{ entity_id: entityId }] = (await newEntityId.run(undefined, c)) as [{ entity_id: string }];
    const [row] = await insertEntity.run(
      { entityId, entityType: p.entityType, canonicalIdentifiers: keyring(db.config).encrypt(JSON.stringify(normalised), identifiersAad(entityId)) },
      c,
    );
    const kinds = Object.keys(normalised) as IdentifierKind[];
    if (kinds.length) {
      const key = blindIndexKey(db.config);
      await insertIdentifiers.run(
        { rows: kinds.map((k) => ({ identifierKind: k, blindIndex: blindIndex(key, k, normalised[k] as string), entityId })) },
        c,
      );
    }
    await recordEvent(c, db, ctx, "entity_created", { entityId, details: { entity_type: p.entityType, identifier_kinds: kinds } });
    return decode(db, row as Parameters<typeof decode>[1]);
  });
}

const lookupSchema = z.object({ kind: z.enum(IDENTIFIER_KINDS), value: identifierValue });

/** Find the (not deleted) entity holding this identifier, without the plaintext ever reaching SQL. */
export function findEntityByIdentifier(db: Db, ctx: RequestContext, kind: IdentifierKind, value: string): Promise<Entity | null> {
  return runParsed(db, ctx, "entity.find_by_identifier", lookupSchema, { kind, value }, async (p, c) => {
    const bi = blindIndex(blindIndexKey(db.config), p.kind, normaliseIdentifier(p.kind, p.value));
    const [row] = await entityByIdentifier.run({ kind: p.kind, blindIndex: bi }, c);
    if (!row) return null;
    await recordEvent(c, db, ctx, "data_accessed", { entityId: row.entity_id, details: { via: "identifier", kind: p.kind } });
    return decode(db, row);
  });
}

const idSchema = z.object({ entityId: z.uuid(), includeDeleted: z.boolean().default(false) });

export function getEntity(db: Db, ctx: RequestContext, entityId: string, opts: { includeDeleted?: boolean } = {}): Promise<Entity> {
  return runParsed(db, ctx, "entity.get", idSchema, { entityId, ...opts }, async (p, c) => {
    const [row] = await entityById.run(p, c);
    if (!row) throw new NotFoundError("entity not found");
    return decode(db, row);
  });
}

/** The normal delete: marks the entity deleted; its data stays until erased. */
export function softDeleteEntityById(db: Db, ctx: RequestContext, entityId: string): Promise<Date> {
  return runParsed(db, ctx, "entity.delete", idSchema, { entityId }, async (p, c) => {
    const [row] = await softDeleteEntity.run(p, c);
    if (!row) throw new NotFoundError("entity not found or already deleted");
    await recordEvent(c, db, ctx, "entity_deleted", { entityId: p.entityId });
    return row.deleted_at as Date;
  });
}

/** Hard erase (right to erasure): the entity and everything hanging off it, by ON DELETE CASCADE. */
export function eraseEntity(db: Db, ctx: RequestContext, entityId: string): Promise<void> {
  return runParsed(db, ctx, "entity.erase", idSchema, { entityId }, async (p, c) => {
    const [row] = await eraseQuery.run(p, c);
    if (!row) throw new NotFoundError("entity not found");
    await recordEvent(c, db, ctx, "entity_erased", { entityId: p.entityId });
  });
}
