/**
 * Migration 20261129190000000_screening_confidentiality on a database that already holds screening data
 * (written in the old shape, as the service wrote it): every profile, relation and entity use gets its
 * owning tenant from the audit trail, what nothing attributes goes to the inactive `unattributed` tenant,
 * the old global soft delete becomes the linked tenants' — and Down gives the old shape back, rows kept.
 */
import crypto from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/db/engine";
import { migrate } from "../../src/tools/migrate";
import { createTestEngine } from "../support/db";

const MIGRATION = "20261129190000000_screening_confidentiality";

describe(`${MIGRATION} on existing data`, () => {
  let engine: Engine;
  let pool: pg.Pool;
  const id = () => crypto.randomUUID();
  const [A, B, E1, E2, E3, E4] = [id(), id(), id(), id(), id(), id()];
  const [P1, P2, P3] = [id(), id(), id()];

  beforeAll(async () => {
    engine = await createTestEngine({ empty: true });
    pool = new pg.Pool({ connectionString: engine.url, max: 2 });
    const all = await migrate(engine.url, { direction: "up" });
    const position = all.indexOf(MIGRATION);
    expect(position).toBeGreaterThan(0);
    await migrate(engine.url, { direction: "down", count: all.length - position });
  }, 120_000);
  afterAll(async () => {
    await pool?.end();
    await engine?.stop();
  });

  /** As the owner with a tenant set (the audit trail is under forced RLS), in one transaction. */
  async function asTenant(tenant: string, sql: string, params: unknown[] = []) {
    const c = await pool.connect();
    try {
      await c.query("BEGIN");
      await c.query("SELECT set_config('app.tenant_id', $1, true)", [tenant]);
      await c.query(sql, params);
      await c.query("COMMIT");
    } finally {
      c.release();
    }
  }

  it("attributes existing rows from the audit trail and keeps the rest under `unattributed`", async () => {
    // The old shape: tenants A and B; E1 created by A, screened by A (v1) and B (v2); B related E1 -> E2;
    // E3 created and soft-deleted by A; E4's profile has no event at all.
    await pool.query("INSERT INTO screening.tenants (tenant_id, slug, name) VALUES ($1, 'mig-a', 'A'), ($2, 'mig-b', 'B')", [A, B]);
    await pool.query(
      `INSERT INTO screening.entities (entity_id, entity_type, canonical_identifiers, deleted_at)
       VALUES ($1, 'individual', '\\x01', NULL), ($2, 'organization', '\\x01', NULL), ($3, 'individual', '\\x01', now()), ($4, 'individual', '\\x01', NULL)`,
      [E1, E2, E3, E4],
    );
    const profile = "(profile_id, entity_id, version, previous_version, trigger_type, findings, risk_score, connections, data_sources_used)";
    await pool.query(
      `INSERT INTO screening.entity_profiles ${profile} VALUES
         ($1, $4, 1, NULL, 'screening', '[]', '{}', '[]', '[]'), ($2, $4, 2, 1, 'monitoring', '[]', '{}', '[]', '[]'),
         ($3, $5, 1, NULL, 'manual', '[]', '{}', '[]', '[]')`,
      [P1, P2, P3, E1, E4],
    );
    await pool.query(
      "INSERT INTO screening.entity_relations (from_entity_id, to_entity_id, relation_type, confidence_score) VALUES ($1, $2, 'employer', 0.9)",
      [E1, E2],
    );
    const event = "INSERT INTO screening.audit_events (tenant_id, event_type, correlation_id, entity_id, details) VALUES ($1, $2, gen_random_uuid(), $3, $4)";
    await asTenant(A, event, [A, "entity_created", E1, "{}"]);
    await asTenant(A, event, [A, "profile_created", E1, '{"version": 1}']);
    await asTenant(A, event, [A, "entity_created", E3, "{}"]);
    await asTenant(B, event, [B, "profile_created", E1, '{"version": 2}']);
    await asTenant(B, event, [B, "relation_created", E1, JSON.stringify({ to: E2, type: "employer" })]);

    expect(await migrate(engine.url, { direction: "up", count: 1 })).toEqual([MIGRATION]);

    const profiles = (
      await pool.query("SELECT p.profile_id, t.slug FROM screening.entity_profiles p JOIN screening.tenants t USING (tenant_id) ORDER BY p.profile_id")
    ).rows;
    expect(Object.fromEntries(profiles.map((r) => [r.profile_id, r.slug]))).toEqual({ [P1]: "mig-a", [P2]: "mig-b", [P3]: "unattributed" });
    expect((await pool.query("SELECT is_active FROM screening.tenants WHERE slug = 'unattributed'")).rows).toEqual([{ is_active: false }]);
    expect((await pool.query("SELECT t.slug FROM screening.entity_relations r JOIN screening.tenants t USING (tenant_id)")).rows).toEqual([{ slug: "mig-b" }]);
    const links = (
      await pool.query(
        "SELECT t.slug, l.entity_id, l.deleted_at IS NOT NULL AS deleted FROM screening.tenant_entities l JOIN screening.tenants t USING (tenant_id) ORDER BY 1, 2",
      )
    ).rows;
    const expected = [
      { slug: "mig-a", entity_id: E1, deleted: false },
      { slug: "mig-a", entity_id: E3, deleted: true },
      { slug: "mig-b", entity_id: E1, deleted: false },
      { slug: "mig-b", entity_id: E2, deleted: false },
      { slug: "unattributed", entity_id: E4, deleted: false },
    ];
    const order = (r: { slug: string; entity_id: string }) => `${r.slug} ${r.entity_id}`;
    expect(links.sort((x, y) => order(x).localeCompare(order(y)))).toEqual(expected.sort((x, y) => order(x).localeCompare(order(y))));
  });

  it("reverts to the old shape with every row kept: versions renumbered per entity, soft delete back on the entity", async () => {
    expect(await migrate(engine.url, { direction: "down", count: 1 })).toEqual([MIGRATION]);
    const versions = (
      await pool.query("SELECT profile_id, version, previous_version FROM screening.entity_profiles WHERE entity_id = $1 ORDER BY version", [E1])
    ).rows;
    expect(versions).toEqual([
      { profile_id: P1, version: 1, previous_version: null },
      { profile_id: P2, version: 2, previous_version: 1 },
    ]);
    expect((await pool.query("SELECT count(*)::int AS n FROM screening.entity_profiles")).rows[0].n).toBe(3);
    const deleted = (await pool.query("SELECT entity_id FROM screening.entities WHERE deleted_at IS NOT NULL")).rows.map((r) => r.entity_id);
    expect(deleted).toEqual([E3]);
    expect(await migrate(engine.url, { direction: "up", count: 1 })).toEqual([MIGRATION]);
  });
});
