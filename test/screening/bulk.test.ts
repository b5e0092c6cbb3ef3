/**
 * Bulk loading of entities (src/screening/bulk.ts): COPY on the server engine, INSERT ... unnest batches on
 * the embedded one (which cannot COPY FROM STDIN over its socket). One transaction per call: typed errors
 * and nothing half-written.
 */
import crypto from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { ConflictError, NotFoundError, ValidationError } from "../../src/db/errors";
import { platformContext } from "../../src/db/operation";
import { keyring } from "../../src/screening/context";
import { bulkCreateEntities, importEntityRows } from "../../src/screening/bulk";
import { createEntity, createTenant, findEntityByIdentifier, getEntity, type RequestContext, requestContext } from "../../src/screening";
import { identifiersAad } from "../../src/screening/entities";
import { useTestDb } from "../support/db";

const t = useTestDb();
let A: RequestContext;
let B: RequestContext;
const ctx = () => requestContext({ tenantId: A.tenantId, actorId: crypto.randomUUID(), correlationId: crypto.randomUUID() });
const other = () => requestContext({ tenantId: B.tenantId, actorId: crypto.randomUUID(), correlationId: crypto.randomUUID() });
const ssn = (i: number) => String(200_000_000 + i).padStart(9, "0");
const count = async (sql: string, params: unknown[] = []) => Number((await t.db.pool.query(sql, params)).rows[0].n);
const totals = async () => ({
  entities: await count("SELECT count(*) AS n FROM screening.entities"),
  identifiers: await count("SELECT count(*) AS n FROM screening.entity_identifiers"),
});
const auditFor = (c: RequestContext, type: string) =>
  t.db.tenant(c.tenantId, async (cl) =>
    Number(
      (await cl.query("SELECT count(*) AS n FROM screening.audit_events WHERE correlation_id = $1 AND event_type = $2", [c.correlationId, type])).rows[0].n,
    ),
  );

beforeAll(async () => {
  const tenant = await createTenant(t.db, platformContext(), { slug: "bulk-co", name: "Bulk Co" });
  A = requestContext({ tenantId: tenant.tenant_id, actorId: null, correlationId: crypto.randomUUID() });
  const second = await createTenant(t.db, platformContext(), { slug: "other-co", name: "Other Co" });
  B = requestContext({ tenantId: second.tenant_id, actorId: null, correlationId: crypto.randomUUID() });
});

describe("bulkCreateEntities", () => {
  it("creates 2,000 entities with encrypted identifiers and blind indexes, audited, in input order", async () => {
    const c = ctx();
    const before = await totals();
    const inputs = Array.from({ length: 2000 }, (_, i) => ({
      entityType: (i % 2 ? "individual" : "organization") as "individual" | "organization",
      identifiers: i % 2 ? { ssn: `${ssn(i).slice(0, 3)}-${ssn(i).slice(3, 5)}-${ssn(i).slice(5)}` } : { ein: ssn(i), lei: `lei ${i}` },
    }));
    const ids = await bulkCreateEntities(t.db, c, { entities: inputs });
    expect(ids).toHaveLength(2000);
    expect(new Set(ids).size).toBe(2000);
    expect(await totals()).toEqual({ entities: before.entities + 2000, identifiers: before.identifiers + 1000 + 2000 });
    // Readable through the normal service path: decrypts (AAD bound to its id) and is found by identifier.
    expect((await getEntity(t.db, c, { entityId: ids[7] as string })).identifiers).toEqual({ ssn: ssn(7) });
    expect((await getEntity(t.db, c, { entityId: ids[8] as string })).identifiers).toEqual({ ein: ssn(8), lei: "LEI 8" });
    expect((await findEntityByIdentifier(t.db, c, { kind: "ssn", value: ssn(1999) }))?.entity_id).toBe(ids[1999]);
    expect(await auditFor(c, "entity_created")).toBe(2000);
    expect(await auditFor(c, "data_accessed")).toBe(3); // the three reads above
    // Linked to the loading tenant only: another tenant does not see them until it resolves an identifier it holds.
    expect(await count("SELECT count(*) AS n FROM screening.tenant_entities WHERE tenant_id = $1 AND entity_id = ANY ($2::uuid[])", [A.tenantId, ids])).toBe(
      2000,
    );
    await expect(getEntity(t.db, other(), { entityId: ids[7] as string })).rejects.toBeInstanceOf(NotFoundError);
    // No plaintext identifier is stored.
    expect(await count("SELECT count(*) AS n FROM screening.entities WHERE position($1::bytea IN canonical_identifiers) > 0", [Buffer.from(ssn(7))])).toBe(0);
  });

  it("a repeated identifier inside the batch is a ConflictError and writes nothing", async () => {
    const before = await totals();
    const c = ctx();
    const inputs = Array.from({ length: 300 }, (_, i) => ({ entityType: "individual" as const, identifiers: { ssn: ssn(10_000 + (i === 299 ? 5 : i)) } }));
    const e = await bulkCreateEntities(t.db, c, { entities: inputs }).catch((x) => x);
    expect(e).toBeInstanceOf(ConflictError);
    expect(e.constraint).toBe("entity_identifiers_pkey");
    expect(e.message).not.toContain(ssn(10_005));
    expect(await totals()).toEqual(before);
    expect(await auditFor(c, "entity_created")).toBe(0);
    expect(await auditFor(c, "error")).toBe(1);
  });

  it("an identifier an existing entity already holds is a ConflictError and writes nothing", async () => {
    await createEntity(t.db, ctx(), { entityType: "individual", identifiers: { ssn: ssn(20_000) } });
    const before = await totals();
    const inputs = [
      { entityType: "individual" as const, identifiers: { ssn: ssn(20_001) } },
      { entityType: "individual" as const, identifiers: { ssn: ssn(20_000) } },
    ];
    await expect(bulkCreateEntities(t.db, ctx(), { entities: inputs })).rejects.toBeInstanceOf(ConflictError);
    expect(await totals()).toEqual(before);
  });

  it("invalid input is a ValidationError naming the row and field, before anything is written", async () => {
    const before = await totals();
    const inputs = [
      { entityType: "individual", identifiers: { ssn: ssn(1) } },
      { entityType: "individual", identifiers: { ssn: "12-34" } },
    ];
    const e = await bulkCreateEntities(t.db, ctx(), { entities: inputs } as never).catch((x) => x);
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.fields).toEqual(["entities.1.identifiers.ssn"]);
    await expect(bulkCreateEntities(t.db, ctx(), { entities: [] })).rejects.toBeInstanceOf(ValidationError);
    await expect(bulkCreateEntities(t.db, ctx(), { entities: [{ entityType: "robot" }] } as never)).rejects.toBeInstanceOf(ValidationError);
    expect(await totals()).toEqual(before);
  });
});

describe("importEntityRows (stored form, no cryptography on the way in)", () => {
  const stored = (n: number) => {
    const k = keyring(t.db.config);
    return Array.from({ length: n }, () => {
      const entityId = crypto.randomUUID();
      return { entityId, entityType: "address" as const, canonicalIdentifiers: k.encrypt(JSON.stringify({ address_key: entityId }), identifiersAad(entityId)) };
    });
  };

  it("copies rows as they are; the service reads them back", async () => {
    const rows = stored(1500);
    const c = ctx();
    expect(await importEntityRows(t.db, c, { rows })).toBe(1500);
    const last = rows[1499] as (typeof rows)[number];
    expect((await getEntity(t.db, c, { entityId: last.entityId })).identifiers).toEqual({ address_key: last.entityId });
    expect(await auditFor(c, "entity_created")).toBe(1500);
    expect(
      await count("SELECT count(*) AS n FROM screening.tenant_entities WHERE tenant_id = $1 AND entity_id = ANY ($2::uuid[])", [
        A.tenantId,
        rows.map((r) => r.entityId),
      ]),
    ).toBe(1500);
    await expect(getEntity(t.db, other(), { entityId: last.entityId })).rejects.toBeInstanceOf(NotFoundError);
  });

  it("rejects a row that is not a ciphertext, or a repeated id, writing nothing", async () => {
    const before = await totals();
    const rows = stored(50);
    const bad = [...rows.slice(0, 10), { ...(rows[10] as (typeof rows)[number]), canonicalIdentifiers: Buffer.from("plaintext!") }];
    const e = await importEntityRows(t.db, ctx(), { rows: bad }).catch((x) => x);
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.fields).toEqual(["rows.10.canonicalIdentifiers"]);
    const dup = await importEntityRows(t.db, ctx(), { rows: [...rows, rows[3] as (typeof rows)[number]] }).catch((x) => x);
    expect(dup).toBeInstanceOf(ConflictError);
    expect(dup.constraint).toBe("entities_pkey");
    expect(await totals()).toEqual(before);
  });
});
