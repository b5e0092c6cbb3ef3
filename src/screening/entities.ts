/**
 * Entities with encrypted canonical identifiers and blind indexes. The same identifier of one kind can
 * never create two entities (PRIMARY KEY (identifier_kind, blind_index)): the loser of a race, or a
 * repeat, gets a ConflictError and nothing is written.
 */
import { z } from "zod";
import type { Db } from "../db/connect";
import { blindIndex } from "../db/crypto";
import { maybeOne, one } from "../db/rows";
import { blindIndexKey, keyring, operation, recordEvent } from "./context";
import type { entity_type, IEntityByIdResult } from "./queries/entities.queries";
import { sql } from "./sql";

export const IDENTIFIER_KINDS = ["ssn", "ein", "passport", "national_id", "drivers_license", "tax_id", "duns", "lei", "address_key"] as const;
export type IdentifierKind = (typeof IDENTIFIER_KINDS)[number];
export type EntityType = entity_type;

/** Normalise an identifier so formatting does not defeat duplicate detection. */
export function normaliseIdentifier(kind: IdentifierKind, value: string): string {
  const v = value.normalize("NFKC").trim();
  if (kind === "ssn" || kind === "ein" || kind === "duns") return v.replace(/[\s-]/g, "");
  return v.toUpperCase().replace(/\s+/g, " ");
}

const identifierValue = z
  .string()
  .min(1)
  .max(200)
  .refine((v) => !v.includes("\u0000"), "must not contain NUL");
const identifiers = z.partialRecord(z.enum(IDENTIFIER_KINDS), identifierValue).superRefine((ids, ctx) => {
  if (ids.ssn !== undefined && !/^\d{9}$/.test(normaliseIdentifier("ssn", ids.ssn)))
    ctx.addIssue({ code: "custom", path: ["ssn"], message: "must be 9 digits" });
  if (ids.ein !== undefined && !/^\d{9}$/.test(normaliseIdentifier("ein", ids.ein)))
    ctx.addIssue({ code: "custom", path: ["ein"], message: "must be 9 digits" });
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

function decode(db: Db, row: IEntityByIdResult): Entity {
  const { canonical_identifiers, ...rest } = row;
  return { ...rest, identifiers: JSON.parse(keyring(db.config).decryptString(canonical_identifiers, identifiersAad(row.entity_id))) };
}

/** What createEntity (and each element of bulkCreateEntities) takes. */
export const entityInput = z.object({ entityType: z.enum(["individual", "organization", "address"]), identifiers: identifiers.default({}) });

/** Every identifier of an entity, normalised (see normaliseIdentifier). */
export function normaliseIdentifiers(ids: Partial<Record<IdentifierKind, string>>): Partial<Record<IdentifierKind, string>> {
  return Object.fromEntries(Object.entries(ids).map(([k, v]) => [k, normaliseIdentifier(k as IdentifierKind, v as string)]));
}

const entityId = z.object({ entityId: z.uuid() });

/** Create an entity with encrypted, blind-indexed identifiers; a known identifier is a ConflictError. */
export const createEntity = operation({
  name: "screening.entity.create",
  input: entityInput,
  kind: "write",
  affects: "tenant",
  context: "tenant",
  reveals: "personal",
  audit: "change",
  async run(p, { c, ctx, db }) {
    const normalised = normaliseIdentifiers(p.identifiers);
    const { entity_id: entityId } = await one(sql.entities.newEntityId, undefined, c);
    const row = await one(
      sql.entities.insertEntity,
      { entityId, entityType: p.entityType, canonicalIdentifiers: keyring(db.config).encrypt(JSON.stringify(normalised), identifiersAad(entityId)) },
      c,
    );
    const kinds = Object.keys(normalised) as IdentifierKind[];
    if (kinds.length) {
      const key = blindIndexKey(db.config);
      await sql.entities.insertIdentifiers.run(
        { rows: kinds.map((k) => ({ identifierKind: k, blindIndex: blindIndex(key, k, normalised[k] as string), entityId })) },
        c,
      );
    }
    await recordEvent(c, db, ctx, "entity_created", { entityId, details: { entity_type: p.entityType, identifier_kinds: kinds } });
    return decode(db, row);
  },
});

/** Find the (not deleted) entity holding this identifier, without the plaintext ever reaching SQL. */
export const findEntityByIdentifier = operation({
  name: "screening.entity.find_by_identifier",
  input: z.object({ kind: z.enum(IDENTIFIER_KINDS), value: identifierValue }),
  kind: "read",
  context: "tenant",
  reveals: "personal",
  audit: "access",
  async run(p, { c, db }) {
    const bi = blindIndex(blindIndexKey(db.config), p.kind, normaliseIdentifier(p.kind, p.value));
    const row = await maybeOne(sql.entities.entityByIdentifier, { kind: p.kind, blindIndex: bi }, c);
    return row ? decode(db, row) : null;
  },
  accessed: (p, e) => (e ? { subject: e.entity_id, details: { via: "identifier", kind: p.kind } } : null),
});

/** An entity with its decrypted identifiers (a deleted one only with includeDeleted). */
export const getEntity = operation({
  name: "screening.entity.get",
  input: entityId.extend({ includeDeleted: z.boolean().default(false) }),
  kind: "read",
  context: "tenant",
  reveals: "personal",
  audit: "access",
  async run(p, { c, db }) {
    return decode(db, await one(sql.entities.entityById, p, c, "entity not found"));
  },
  accessed: (p) => ({ subject: p.entityId }),
});

/** The normal delete: marks the entity deleted; its data stays until erased. Returns when. */
export const softDeleteEntity = operation({
  name: "screening.entity.delete",
  input: entityId,
  kind: "write",
  affects: "tenant",
  context: "tenant",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx, db }) {
    const row = await one(sql.entities.softDeleteEntity, p, c, "entity not found or already deleted");
    await recordEvent(c, db, ctx, "entity_deleted", { entityId: p.entityId });
    return row.deleted_at;
  },
});

/** Hard erase (right to erasure): the entity and everything hanging off it, by ON DELETE CASCADE. */
export const eraseEntity = operation({
  name: "screening.entity.erase",
  input: entityId,
  kind: "write",
  affects: "tenant",
  context: "tenant",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx, db }) {
    await one(sql.entities.eraseEntity, p, c, "entity not found");
    await recordEvent(c, db, ctx, "entity_erased", { entityId: p.entityId });
  },
});
