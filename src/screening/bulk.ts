/**
 * Bulk loading of entities through COPY (src/db/copy.ts), in ONE transaction per call: every entity,
 * blind index and audit event of the call is written, or (on any error) none is.
 *
 * - bulkCreateEntities: what createEntity does, for up to 100,000 entities at once — identifiers
 *   normalised, encrypted (AES-256-GCM, bound to the entity id) and blind-indexed (HMAC-SHA256), so a
 *   repeated SSN/EIN (within the batch or against existing entities) is a ConflictError and nothing is
 *   written. One entity_created audit event per entity.
 * - importEntityRows: rows already in their stored form (the generated InsertEntity parameter type, i.e.
 *   ciphertexts made elsewhere with this keyring), copied as they are: no cryptography on the way in. Each
 *   ciphertext must be in our format (checked from its header, not decrypted); identifiers are not
 *   blind-indexed, so findEntityByIdentifier will not find these entities.
 *
 * They run as `app`, and entities and their identifiers are under row-level security (an entity is seen only
 * by the tenants that use it), which PostgreSQL's COPY FROM refuses: so these calls insert with the tables'
 * INSERT ... SELECT FROM unnest(...) fallback in batches (same validation, same single transaction); each
 * loaded entity is linked to the loading tenant. copyRows keeps COPY for owner-side loads (`make bench`).
 */
import { z } from "zod";
import { copyRows, copyTable } from "../db/copy";
import { blindIndex } from "../db/crypto";
import { AppError, ValidationError } from "../db/errors";
import { many } from "../db/rows";
import { blindIndexKey, keyring, operation } from "./context";
import { entityInput, type IdentifierKind, identifiersAad, normaliseIdentifiers } from "./entities";
import type { IInsertEntityParams, IInsertIdentifiersParams } from "./queries/entities.queries";
import { sql } from "./sql";

export const MAX_BULK_ENTITIES = 100_000;

export type EntityRow = IInsertEntityParams;
export type IdentifierRow = IInsertIdentifiersParams["rows"][number];

/** screening.entities as a COPY target, fed with the generated InsertEntity parameter type. */
export const ENTITIES_COPY = copyTable<EntityRow>(
  "screening.entities",
  {
    entityId: { column: "entity_id", type: "uuid" },
    entityType: { column: "entity_type", type: "text" },
    canonicalIdentifiers: { column: "canonical_identifiers", type: "bytea" },
  },
  {
    fallback: (rows, c) =>
      many(
        sql.bulk.insertEntitiesUnnest,
        { entityIds: rows.map((r) => r.entityId), entityTypes: rows.map((r) => r.entityType), canonicalIdentifiers: rows.map((r) => r.canonicalIdentifiers) },
        c,
      ),
  },
);

/** screening.entity_identifiers as a COPY target, fed with the generated InsertIdentifiers row type. */
export const IDENTIFIERS_COPY = copyTable<IdentifierRow>(
  "screening.entity_identifiers",
  {
    identifierKind: { column: "identifier_kind", type: "text" },
    blindIndex: { column: "blind_index", type: "bytea" },
    entityId: { column: "entity_id", type: "uuid" },
  },
  {
    fallback: (rows, c) =>
      many(
        sql.bulk.insertIdentifiersUnnest,
        { identifierKinds: rows.map((r) => r.identifierKind), blindIndexes: rows.map((r) => r.blindIndex), entityIds: rows.map((r) => r.entityId) },
        c,
      ),
  },
);

/** Create many entities in one transaction; returns their ids in input order. */
export const bulkCreateEntities = operation({
  name: "screening.entity.bulk_create",
  input: z.object({ entities: z.array(entityInput).min(1).max(MAX_BULK_ENTITIES) }),
  kind: "write",
  affects: "tenant",
  context: "tenant",
  reveals: "nothing",
  audit: "change",
  async run({ entities: input }, { c, ctx, db }): Promise<string[]> {
    const ids = (await many(sql.bulk.newEntityIds, { count: input.length }, c)).map((r) => r.entity_id);
    const k = keyring(db.config);
    const entities: EntityRow[] = [];
    const indexes: IdentifierRow[] = [];
    const details: string[] = [];
    const key = input.some((e) => Object.keys(e.identifiers).length) ? blindIndexKey(db.config) : undefined;
    input.forEach((e, i) => {
      const entityId = ids[i] as string;
      const normalised = normaliseIdentifiers(e.identifiers);
      const kinds = Object.keys(normalised) as IdentifierKind[];
      entities.push({ entityId, entityType: e.entityType, canonicalIdentifiers: k.encrypt(JSON.stringify(normalised), identifiersAad(entityId)) });
      for (const kind of kinds) indexes.push({ identifierKind: kind, blindIndex: blindIndex(key as Buffer, kind, normalised[kind] as string), entityId });
      details.push(JSON.stringify({ entity_type: e.entityType, identifier_kinds: kinds, bulk: true }));
    });
    await copyRows(c, ENTITIES_COPY, entities, { via: "insert" });
    await many(sql.bulk.linkEntitiesUnnest, { tenantId: ctx.tenantId, entityIds: ids }, c);
    if (indexes.length) await copyRows(c, IDENTIFIERS_COPY, indexes, { via: "insert" });
    await many(
      sql.bulk.insertEntityCreatedEvents,
      { tenantId: ctx.tenantId, actorId: ctx.actorId, correlationId: ctx.correlationId, entityIds: ids, details },
      c,
    );
    return ids;
  },
});

const storedRow = z.object({
  entityId: z.uuid(),
  entityType: z.enum(["individual", "organization", "address"]),
  canonicalIdentifiers: z.instanceof(Buffer).refine((b) => b.length <= 1_000_000, "must be at most 1 MB"),
});

/** Copy entity rows already in stored form (ciphertexts made with this keyring); returns the count. */
export const importEntityRows = operation({
  name: "screening.entity.import",
  input: z.object({ rows: z.array(storedRow).min(1).max(MAX_BULK_ENTITIES) }),
  kind: "write",
  affects: "tenant",
  context: "tenant",
  reveals: "nothing",
  audit: "change",
  async run({ rows }, { c, ctx, db }): Promise<number> {
    const k = keyring(db.config);
    rows.forEach((r, i) => {
      try {
        k.keyIdOf(r.canonicalIdentifiers);
      } catch (e) {
        if (e instanceof AppError) throw new ValidationError(`invalid rows: rows.${i}.canonicalIdentifiers: ${e.message}`, [`rows.${i}.canonicalIdentifiers`]);
        throw e;
      }
    });
    const n = await copyRows(c, ENTITIES_COPY, rows, { via: "insert" });
    await many(sql.bulk.linkEntitiesUnnest, { tenantId: ctx.tenantId, entityIds: rows.map((r) => r.entityId) }, c);
    const details = rows.map((r) => JSON.stringify({ entity_type: r.entityType, imported: true }));
    await many(
      sql.bulk.insertEntityCreatedEvents,
      { tenantId: ctx.tenantId, actorId: ctx.actorId, correlationId: ctx.correlationId, entityIds: rows.map((r) => r.entityId), details },
      c,
    );
    return n;
  },
});
