/**
 * The query builders people already use, defined over the same tables for the comparison (devDependencies
 * of the bench only): Kysely and Drizzle, both on a plain pg.Pool.
 */
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import { customType, pgSchema, timestamp, uuid } from "drizzle-orm/pg-core";
import { type Generated, Kysely, PostgresDialect } from "kysely";
import type pg from "pg";

interface KyselySchema {
  "screening.entities": {
    entity_id: string;
    entity_type: "individual" | "organization" | "address";
    canonical_identifiers: Buffer;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
}

const screening = pgSchema("screening");
const entityType = screening.enum("entity_type", ["individual", "organization", "address"]);
const bytea = customType<{ data: Buffer }>({ dataType: () => "bytea" });
export const entities = screening.table("entities", {
  entityId: uuid("entity_id").primaryKey(),
  entityType: entityType("entity_type").notNull(),
  canonicalIdentifiers: bytea("canonical_identifiers").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

export type EntityInsert = { entityId: string; entityType: "individual" | "organization" | "address"; canonicalIdentifiers: Buffer };

export function builders(pool: pg.Pool) {
  const kysely = new Kysely<KyselySchema>({ dialect: new PostgresDialect({ pool }) });
  const orm = drizzle({ client: pool });
  return {
    kyselyLookup: (id: string) => kysely.selectFrom("screening.entities").selectAll().where("entity_id", "=", id).executeTakeFirst(),
    drizzleLookup: (id: string) => orm.select().from(entities).where(eq(entities.entityId, id)),
    kyselyInsert: (rows: EntityInsert[]) =>
      kysely
        .insertInto("screening.entities")
        .values(rows.map((r) => ({ entity_id: r.entityId, entity_type: r.entityType, canonical_identifiers: r.canonicalIdentifiers })))
        .execute(),
    drizzleInsert: (rows: EntityInsert[]) => orm.insert(entities).values(rows),
    /** Kysely does not own the pool; nothing to close. */
    async close() {},
  };
}
