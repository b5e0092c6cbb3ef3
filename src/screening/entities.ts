/**
 * Entities with encrypted canonical identifiers and blind indexes. The same identifier of one kind can
 * never create two entities (PRIMARY KEY (identifier_kind, blind_index)): the loser of a race, or a
 * repeat, gets a ConflictError and nothing is written.
 */
import { z } from "zod";
import type { Db } from "../db/connect";
import { blindIndex } from "../db/crypto";
import { NotFoundError } from "../db/errors";
import { many, maybeOne, one } from "../db/rows";
import { blindIndexKey, keyring, operation, platformOperation, recordEvent } from "./context";
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
/** The formats an identifier kind must have once normalised (createEntity and updateEntity alike). */
function checkFormats(ids: Partial<Record<IdentifierKind, string | null>>, ctx: z.RefinementCtx) {
  for (const kind of ["ssn", "ein"] as const) {
    const v = ids[kind];
    if (typeof v === "string" && !/^\d{9}$/.test(normaliseIdentifier(kind, v))) ctx.addIssue({ code: "custom", path: [kind], message: "must be 9 digits" });
  }
}
const identifiers = z.partialRecord(z.enum(IDENTIFIER_KINDS), identifierValue).superRefine(checkFormats);
/** What updateEntity takes: each kind given is set (added or changed), or removed when null; at least one kind. */
const identifierChanges = z
  .partialRecord(z.enum(IDENTIFIER_KINDS), identifierValue.nullable())
  .superRefine(checkFormats)
  .refine((ids) => Object.keys(ids).length > 0, "must name at least one identifier kind");

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

/** An entity's identifiers from their ciphertext. */
const decryptIdentifiers = (db: Db, entityId: string, ciphertext: Buffer): Partial<Record<IdentifierKind, string>> =>
  JSON.parse(keyring(db.config).decryptString(ciphertext, identifiersAad(entityId)));

/** An entity row as the tenant sees it, its identifiers decrypted (exported for `make bench`'s contenders). */
export function decodeEntity(db: Db, row: IEntityByIdResult): Entity {
  const { canonical_identifiers, ...rest } = row;
  return { ...rest, identifiers: decryptIdentifiers(db, row.entity_id, canonical_identifiers) };
}

/** What createEntity (and each element of bulkCreateEntities) takes. */
export const entityInput = z.object({ entityType: z.enum(["individual", "organization", "address"]), identifiers: identifiers.default({}) });

/** Every identifier of an entity, normalised (see normaliseIdentifier). */
export function normaliseIdentifiers(ids: Partial<Record<IdentifierKind, string>>): Partial<Record<IdentifierKind, string>> {
  return Object.fromEntries(Object.entries(ids).map(([k, v]) => [k, normaliseIdentifier(k as IdentifierKind, v as string)]));
}

const entityId = z.object({ entityId: z.uuid() });

/** Create an entity with encrypted, blind-indexed identifiers, used by the caller's tenant; a known identifier is a ConflictError. */
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
    await many(
      sql.entities.insertEntity,
      { entityId, entityType: p.entityType, canonicalIdentifiers: keyring(db.config).encrypt(JSON.stringify(normalised), identifiersAad(entityId)) },
      c,
    );
    await many(sql.entities.linkEntity, { tenantId: ctx.tenantId, entityId }, c);
    const kinds = Object.keys(normalised) as IdentifierKind[];
    if (kinds.length) {
      const key = blindIndexKey(db.config);
      await many(
        sql.entities.insertIdentifiers,
        { rows: kinds.map((k) => ({ identifierKind: k, blindIndex: blindIndex(key, k, normalised[k] as string), entityId })) },
        c,
      );
    }
    await recordEvent(c, db, ctx, "entity_created", { entityId, details: { entity_type: p.entityType, identifier_kinds: kinds } });
    return decodeEntity(db, await one(sql.entities.entityById, { tenantId: ctx.tenantId, entityId, includeDeleted: false }, c));
  },
});

/**
 * Find the entity holding this identifier, without the plaintext ever reaching SQL. Identity is shared:
 * resolving an identifier the tenant holds is how it starts screening an entity another tenant created, so
 * the entity is linked to the caller's tenant. An entity the tenant soft-deleted is found only with
 * includeDeleted (restore it with restoreEntity).
 */
export const findEntityByIdentifier = operation({
  name: "screening.entity.find_by_identifier",
  input: z.object({ kind: z.enum(IDENTIFIER_KINDS), value: identifierValue, includeDeleted: z.boolean().default(false) }),
  kind: "read",
  context: "tenant",
  reveals: "personal",
  audit: "access",
  async run(p, { c, ctx, db }) {
    const bi = blindIndex(blindIndexKey(db.config), p.kind, normaliseIdentifier(p.kind, p.value));
    const { entity_id: found } = await one(sql.entities.resolveIdentifier, { kind: p.kind, blindIndex: bi }, c);
    if (!found) return null;
    const row = await maybeOne(sql.entities.entityById, { tenantId: ctx.tenantId, entityId: found, includeDeleted: p.includeDeleted }, c);
    return row ? decodeEntity(db, row) : null;
  },
  accessed: (p, e) => (e ? { subject: e.entity_id, details: { via: "identifier", kind: p.kind } } : null),
});

/** An entity the caller's tenant uses, with its decrypted identifiers (one it soft-deleted only with includeDeleted). */
export const getEntity = operation({
  name: "screening.entity.get",
  input: entityId.extend({ includeDeleted: z.boolean().default(false) }),
  kind: "read",
  context: "tenant",
  reveals: "personal",
  audit: "access",
  // The read writes its own data_accessed event (EntityByIdRecorded): one statement, one round trip.
  oneStatement: true,
  accessInStatement: true,
  run: async (p, { c, ctx, db }) =>
    decodeEntity(
      db,
      await one(
        sql.entities.entityByIdRecorded,
        {
          tenantId: ctx.tenantId,
          actorId: ctx.actorId,
          correlationId: ctx.correlationId,
          details: JSON.stringify({ operation: "screening.entity.get" }),
          ...p,
        },
        c,
        "entity not found",
      ),
    ),
  accessed: (p) => ({ subject: p.entityId }),
});

/**
 * Change an entity's identifiers: each kind given is set (added, or changed to the new value), each given as
 * null removed; the entity type is what the entity is and does not change. The caller's tenant must use the
 * entity and not have deleted it (another tenant's entity is not found). Identity is shared, so every tenant
 * using the entity sees the change. The blind indexes change with the ciphertext, in the same transaction:
 * an identifier another entity holds is a ConflictError (entity_identifiers_pkey) and nothing changes.
 * Concurrent updates of one entity queue on its row lock (screening.entity_for_update). The entity_updated
 * event names the kinds added, changed and removed, never values.
 */
export const updateEntity = operation({
  name: "screening.entity.update",
  input: entityId.extend({ identifiers: identifierChanges }),
  kind: "write",
  affects: "tenant",
  context: "tenant",
  reveals: "personal",
  audit: "change",
  async run(p, { c, ctx, db }): Promise<Entity> {
    const row = await one(sql.entities.entityForUpdate, p, c, "entity not found or deleted");
    const before = decryptIdentifiers(db, row.entity_id, row.canonical_identifiers);
    const after = { ...before };
    const change = { added: [] as IdentifierKind[], changed: [] as IdentifierKind[], removed: [] as IdentifierKind[] };
    for (const kind of IDENTIFIER_KINDS) {
      const v = p.identifiers[kind];
      if (v === undefined) continue;
      if (v === null) {
        if (before[kind] !== undefined) change.removed.push(kind);
        delete after[kind];
      } else if (before[kind] !== normaliseIdentifier(kind, v)) {
        (before[kind] === undefined ? change.added : change.changed).push(kind);
        after[kind] = normaliseIdentifier(kind, v);
      }
    }
    let updatedAt = row.updated_at;
    const set = [...change.added, ...change.changed];
    if (set.length || change.removed.length) {
      const key = blindIndexKey(db.config);
      const r = await one(
        sql.entities.setEntityIdentifiers,
        {
          entityId: p.entityId,
          canonicalIdentifiers: keyring(db.config).encrypt(JSON.stringify(after), identifiersAad(p.entityId)),
          identifierKinds: set,
          blindIndexes: set.map((k) => blindIndex(key, k, after[k] as string)),
          removedKinds: change.removed,
        },
        c,
      );
      if (!r.updated_at) throw new NotFoundError("entity not found or deleted"); // the tenant deleted it meanwhile
      updatedAt = r.updated_at;
    }
    await recordEvent(c, db, ctx, "entity_updated", {
      entityId: p.entityId,
      details: { identifiers_added: change.added, identifiers_changed: change.changed, identifiers_removed: change.removed },
    });
    return { entity_id: row.entity_id, entity_type: row.entity_type, identifiers: after, deleted_at: null, created_at: row.created_at, updated_at: updatedAt };
  },
});

/**
 * The normal delete: the caller's tenant stops using the entity. It disappears from the tenant's reads, graph
 * and new links; its identifiers stay (shared identity); restoreEntity brings it back. Returns when.
 */
export const softDeleteEntity = operation({
  name: "screening.entity.delete",
  input: entityId,
  kind: "write",
  affects: "tenant",
  context: "tenant",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx, db }) {
    const row = await one(sql.entities.softDeleteEntity, { tenantId: ctx.tenantId, ...p }, c, "entity not found or already deleted");
    await recordEvent(c, db, ctx, "entity_deleted", { entityId: p.entityId });
    return row.deleted_at;
  },
});

/** Undo the tenant's soft delete of an entity. */
export const restoreEntity = operation({
  name: "screening.entity.restore",
  input: entityId,
  kind: "write",
  affects: "tenant",
  context: "tenant",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx, db }): Promise<void> {
    await one(sql.entities.restoreEntity, { tenantId: ctx.tenantId, ...p }, c, "entity not found or not deleted");
    await recordEvent(c, db, ctx, "entity_updated", { entityId: p.entityId, details: { restored: true } });
  },
});

/** What an erasure removed, per tenant whose data it touched (each also got an entity_erased event). */
export interface ErasureReport {
  tenants: { tenant_id: string; profiles: number; relations: number; cached: number }[];
}

/**
 * Right to erasure, a platform operation (owner connection, never `app`): the entity and everything hanging
 * off it, in every tenant (ON DELETE CASCADE), after an `entity_erased` event in each affected tenant's trail.
 */
export const eraseEntity = platformOperation({
  name: "screening.entity.erase",
  input: entityId,
  kind: "write",
  affects: "platform",
  context: "platform",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx }): Promise<ErasureReport> {
    await one(sql.entities.lockEntityForErasure, p, c, "entity not found");
    const rows = await many(sql.entities.eraseEntity, { entityId: p.entityId, actorId: ctx.actorId, correlationId: ctx.correlationId }, c);
    return { tenants: rows.map((r) => ({ tenant_id: r.tenant_id, profiles: Number(r.profiles), relations: Number(r.relations), cached: Number(r.cached) })) };
  },
});
