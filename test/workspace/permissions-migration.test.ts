/**
 * Migration 20261129230000000_workspace_permissions on a database that already holds organisations (made in
 * the old shape, without owners): each gets its earliest active member as owner, an organisation with no
 * active member gets none; Down keeps every role and grant (`*` written as the vocabulary's wildcards), and
 * Up again restores the owner role without duplicating anything.
 */
import crypto from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/db/engine";
import { migrate } from "../../src/tools/migrate";
import { createTestEngine } from "../support/db";

const MIGRATION = "20261129230000000_workspace_permissions";

describe(`${MIGRATION} on existing data`, () => {
  let engine: Engine;
  let pool: pg.Pool;
  let after: string[] = []; // the migrations after this one, reapplied at the end
  const id = () => crypto.randomUUID();
  const [X, Y, Z] = [id(), id(), id()];
  const [x0, x1, x2, z1] = [id(), id(), id(), id()];

  beforeAll(async () => {
    engine = await createTestEngine({ empty: true });
    pool = new pg.Pool({ connectionString: engine.url, max: 2 });
    const all = await migrate(engine.url, { direction: "up" });
    const position = all.indexOf(MIGRATION);
    expect(position).toBeGreaterThan(0);
    after = all.slice(position + 1);
    await migrate(engine.url, { direction: "down", count: all.length - position });
  }, 120_000);
  afterAll(async () => {
    await pool?.end();
    await engine?.stop();
  });

  const q = async <T = Record<string, unknown>>(sql: string, params: unknown[] = []) => (await pool.query(sql, params)).rows as T[];
  const up = () => migrate(engine.url, { direction: "up", count: 1 });
  const down = () => migrate(engine.url, { direction: "down", count: 1 });
  const ownersOf = (org: string) =>
    q<{ user_id: string }>(
      `SELECT g.user_id FROM workspace.user_roles g JOIN workspace.roles r ON r.id = g.role_id
        WHERE g.organization_id = $1 AND r.organization_id IS NULL AND r.name = 'owner' ORDER BY 1`,
      [org],
    );

  it("makes the earliest active member of each organisation its owner; an organisation without one gets none", async () => {
    // X: an inactive member first, then two active ones; Y: no member; Z: one member holding an old role.
    await q("INSERT INTO workspace.organizations (id, name) VALUES ($1, 'X'), ($2, 'Y'), ($3, 'Z')", [X, Y, Z]);
    await q(
      `INSERT INTO workspace.users (id, organization_id, email, is_active, created_at) VALUES
         ($1, $4, 'x0@mig.example', false, now() - interval '3 days'),
         ($2, $4, 'x1@mig.example', true, now() - interval '2 days'),
         ($3, $4, 'x2@mig.example', true, now() - interval '1 day'),
         ($5, $6, 'z1@mig.example', true, now())`,
      [x0, x1, x2, X, z1, Z],
    );
    const [{ id: oldRole }] = (await q<{ id: string }>(
      "INSERT INTO workspace.roles (organization_id, name, permissions) VALUES ($1, 'editor', '{tasks:*}') RETURNING id",
      [Z],
    )) as [{ id: string }];
    await q("INSERT INTO workspace.user_roles (user_id, role_id, organization_id) VALUES ($1, $2, $3)", [z1, oldRole, Z]);

    await up();
    expect(await ownersOf(X)).toEqual([{ user_id: x1 }]);
    expect(await ownersOf(Y)).toEqual([]);
    expect(await ownersOf(Z)).toEqual([{ user_id: z1 }]);
    expect(await q("SELECT count(*)::int AS n FROM workspace.user_roles WHERE role_id = $1", [oldRole])).toEqual([{ n: 1 }]);
    expect(await q("SELECT name, permissions FROM workspace.roles WHERE organization_id IS NULL ORDER BY name")).toEqual([
      { name: "admin", permissions: ["organization:update", "users:*", "roles:*", "templates:*", "audit:read"] },
      { name: "member", permissions: [] },
      { name: "owner", permissions: ["*"] },
    ]);
    // The last owner is held from the first moment: x1 cannot be demoted or deactivated.
    await expect(q("DELETE FROM workspace.user_roles WHERE user_id = $1", [x1])).rejects.toMatchObject({ code: "OW001" });
    await expect(q("UPDATE workspace.users SET is_active = false WHERE id = $1", [x1])).rejects.toMatchObject({ code: "OW001" });
  });

  it("Down keeps every role and grant, writing * as the resource wildcards; Up again restores it without duplicates", async () => {
    const grantsBefore = await q("SELECT user_id, role_id FROM workspace.user_roles ORDER BY 1, 2");
    await down();
    expect(await q("SELECT user_id, role_id FROM workspace.user_roles ORDER BY 1, 2")).toEqual(grantsBefore);
    expect(await q("SELECT permissions FROM workspace.roles WHERE organization_id IS NULL AND name = 'owner'")).toEqual([
      { permissions: ["audit:*", "organization:*", "roles:*", "templates:*", "users:*"] },
    ]);
    expect(await q("SELECT count(*)::int AS n FROM pg_proc WHERE proname IN ('has_permission', 'keep_an_owner')")).toEqual([{ n: 0 }]);
    // The old shape: a last owner is no longer held.
    await up();
    expect(await q("SELECT user_id, role_id FROM workspace.user_roles ORDER BY 1, 2")).toEqual(grantsBefore);
    expect(await q("SELECT count(*)::int AS n, min(permissions::text) AS p FROM workspace.roles WHERE organization_id IS NULL AND name = 'owner'")).toEqual([
      { n: 1, p: "{*}" },
    ]);
    expect(await ownersOf(X)).toEqual([{ user_id: x1 }]);
    if (after.length) await migrate(engine.url, { direction: "up", count: after.length });
  });
});
