/**
 * Workspace permissions, as a new organisation lives them: the creator is the owner, members hold nothing,
 * an admin manages members and roles but cannot touch owners, nobody grants what they do not hold, the
 * last owner stays — through the service and through hand-written SQL as `app` alike.
 */
import crypto from "node:crypto";
import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { ConflictError, ForbiddenError, NotFoundError } from "../../src/db/errors";
import { operations, platformContext } from "../../src/db/operation";
import "../../src"; // every domain, so the registry below is complete
import * as ws from "../../src/workspace";
import { useTestDb } from "../support/db";
import { inSavepoint } from "../support/probe";
import { tablesChecksum } from "../support/workspace-fixtures";

const t = useTestDb();

let org: ws.NewOrganization;
let ann: ws.WorkspaceContext; // the owner (created the organisation)
let bob: ws.WorkspaceContext; // made admin
let cy: ws.WorkspaceContext; // a plain member
let dee: ws.WorkspaceContext; // a plain member
const ids = { ann: "", bob: "", cy: "", dee: "" };
const system: Record<string, string> = {}; // system role name -> id

const as = (userId: string) => ws.workspaceContext({ organizationId: org.id, userId });
/** Hand-written SQL as `app` in a user's context; the statement's error (typed) or its row count. */
const sqlAs = (userId: string, sql: string, params: unknown[] = []) =>
  t.db.tenant({ tenantId: org.id, userId }, (c: pg.PoolClient) => inSavepoint(c, sql, params));
/** Roles, grants and members of the organisation, to show a refused call changed nothing. */
const rbacState = () => tablesChecksum(t.db, ["workspace.roles", "workspace.user_roles", "workspace.users", "workspace.document_templates"]);
/** The error a call failed with (an Error saying so if it succeeded). */
const errorOf = (call: Promise<unknown>): Promise<Error & { constraint?: string }> =>
  call.then(
    () => new Error("the call succeeded"),
    (e: unknown) => e as Error,
  );
const failures = async () =>
  (await t.db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM workspace.audit_logs WHERE organization_id = $1 AND status = 'failure'", [org.id]))
    .rows[0]!.n;

beforeAll(async () => {
  const tag = crypto.randomBytes(4).toString("hex");
  org = await ws.createOrganization(t.db, platformContext(), { name: `Perm ${tag}`, owner: { email: `ann.${tag}@example.com`, displayName: "Ann" } });
  ids.ann = org.owner.id;
  ann = as(ids.ann);
  for (const r of await ws.listRoles(t.db, ann)) if (r.is_system) system[r.name] = r.id;
  ids.bob = (await ws.createUser(t.db, ann, { email: `bob.${tag}@example.com` })).id;
  ids.cy = (await ws.createUser(t.db, ann, { email: `cy.${tag}@example.com` })).id;
  ids.dee = (await ws.createUser(t.db, ann, { email: `dee.${tag}@example.com` })).id;
  [bob, cy, dee] = [as(ids.bob), as(ids.cy), as(ids.dee)];
  await ws.grantRole(t.db, ann, { userId: ids.bob, roleId: system.admin! });
});

describe("who holds what", () => {
  it("the creator of an organisation is its owner; the system roles are owner, admin and member", async () => {
    expect(Object.keys(system).sort()).toEqual(["admin", "member", "owner"]);
    expect(await ws.permissionsOf(t.db, ann, { userId: ids.ann })).toEqual(["*"]);
    expect(await ws.permissionsOf(t.db, ann, { userId: ids.cy })).toEqual([]);
    expect(await ws.hasPermission(t.db, cy, { userId: ids.ann, permission: "organization:delete" })).toBe(true);
    expect(await ws.hasPermission(t.db, cy, { userId: ids.bob, permission: "organization:delete" })).toBe(false);
    expect(await ws.hasPermission(t.db, cy, { userId: ids.bob, permission: "users:delete" })).toBe(true); // users:* covers it
    // The trail says who made the owner: the platform (user NULL), in the organisation's own audit log.
    const trail = await ws.auditLog(t.db, ann, { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000) });
    expect(trail.filter((r) => r.user_id === null).map((r) => r.action)).toEqual(["role.granted", "user.created", "organization.created"]);
  });

  it("every permission an operation declares is in the vocabulary, and every gated operation needs an acting user", async () => {
    const declared = new Set(operations().flatMap((o) => (o.declaration.permission ? [o.declaration.permission] : [])));
    expect([...declared].filter((p) => !(p in ws.PERMISSIONS))).toEqual([]);
    const noUser = ws.workspaceContext({ organizationId: org.id, userId: null });
    const err = await errorOf(ws.createUser(t.db, noUser, { email: "nobody@example.com" }));
    expect(err).toBeInstanceOf(ForbiddenError);
    expect(err.message).toContain("users:create");
  });
});

/** The statements a call sends, in order (each is one round trip): client.query wrapped while the pool lends it. */
async function statementsOf(call: () => Promise<unknown>): Promise<string[]> {
  const sent: string[] = [];
  const originals = new Map<pg.PoolClient, pg.PoolClient["query"]>();
  const onAcquire = (c: pg.PoolClient) => {
    const query = c.query;
    originals.set(c, query);
    c.query = ((config: string | { text: string }, ...rest: unknown[]) => {
      sent.push(typeof config === "string" ? config : config.text);
      return (query as (...a: unknown[]) => unknown).call(c, config, ...rest);
    }) as pg.PoolClient["query"];
  };
  const restore = (c: pg.PoolClient) => {
    const query = originals.get(c);
    if (query) c.query = query;
    originals.delete(c);
  };
  const onRelease = (_e: Error | undefined, c: pg.PoolClient) => restore(c);
  t.db.pool.on("acquire", onAcquire);
  t.db.pool.on("release", onRelease);
  try {
    await call();
  } finally {
    t.db.pool.off("acquire", onAcquire);
    t.db.pool.off("release", onRelease);
    for (const c of [...originals.keys()]) restore(c);
  }
  return sent;
}

describe("the check", () => {
  it("costs no round trip: it rides in the message that opens the transaction", async () => {
    const sent = await statementsOf(() => ws.createTemplate(t.db, ann, { name: `rt ${crypto.randomUUID()}`, documentType: "memo" }));
    // BEGIN + context + check, the INSERT, the audit row, COMMIT: the same four an ungated write sends.
    expect(sent).toHaveLength(4);
    expect(sent[0]).toMatch(/^BEGIN.*set_config.*; SELECT workspace\.require_permission\('templates:create'\)$/s);
    expect(sent[3]).toBe("COMMIT");
    const ungated = await statementsOf(() => ws.createTask(t.db, ann, { title: "rt" }));
    expect(ungated[0]).not.toContain("require_permission");
  });
});

describe("a plain member", () => {
  it("is refused every organisation-wide change, naming the permission; nothing changes and the refusal is audited", async () => {
    const before = await rbacState();
    const failed = await failures();
    const attempts: [string, () => Promise<unknown>][] = [
      ["roles:create", () => ws.createRole(t.db, cy, { name: "mine", permissions: ["users:*"] })],
      ["roles:grant", () => ws.grantRole(t.db, cy, { userId: ids.cy, roleId: system.admin! })],
      ["roles:revoke", () => ws.revokeRole(t.db, cy, { userId: ids.bob, roleId: system.admin! })],
      ["users:create", () => ws.createUser(t.db, cy, { email: `x.${crypto.randomUUID()}@example.com` })],
      ["users:delete", () => ws.deleteUser(t.db, cy, { userId: ids.dee })],
      ["templates:create", () => ws.createTemplate(t.db, cy, { name: "t", documentType: "memo" })],
      ["audit:read", () => ws.auditLog(t.db, cy, { from: new Date(0), to: new Date() })],
    ];
    for (const [permission, call] of attempts) {
      const err = await errorOf(call());
      expect(err, permission).toBeInstanceOf(ForbiddenError);
      expect(err.message, permission).toContain(permission);
    }
    expect(await rbacState()).toBe(before);
    expect(await failures()).toBe(failed + attempts.length);
  });

  it("cannot escalate with hand-written SQL as app either (the issue's scenario: a role with users:*, granted to self, then a delete)", async () => {
    const before = await rbacState();
    const role = await sqlAs(ids.cy, "INSERT INTO workspace.roles (organization_id, name, permissions) VALUES ($1, 'mine', '{users:*}')", [org.id]);
    expect(role).toMatchObject({ error: expect.any(ForbiddenError) });
    const grant = await sqlAs(ids.cy, "INSERT INTO workspace.user_roles (user_id, role_id, organization_id) VALUES ($1, $2, $3)", [
      ids.cy,
      system.admin,
      org.id,
    ]);
    expect(grant).toMatchObject({ error: expect.any(ForbiddenError) });
    expect(await sqlAs(ids.cy, "DELETE FROM workspace.users WHERE id = $1", [ids.dee])).toEqual({ rowCount: 0 });
    expect(await sqlAs(ids.cy, "DELETE FROM workspace.user_roles WHERE user_id = $1", [ids.bob])).toEqual({ rowCount: 0 });
    expect(await sqlAs(ids.cy, "UPDATE workspace.users SET is_active = false WHERE id = $1", [ids.dee])).toEqual({ rowCount: 0 });
    expect(await sqlAs(ids.cy, "SELECT * FROM workspace.audit_logs")).toEqual({ rowCount: 0 });
    expect(await sqlAs(ids.cy, "INSERT INTO workspace.users (organization_id, email) VALUES ($1, 'sneak@example.com')", [org.id])).toMatchObject({
      error: expect.any(ForbiddenError),
    });
    expect(await rbacState()).toBe(before);
    // Their own profile is theirs to change; whether they are verified or active is not.
    expect(await sqlAs(ids.cy, "UPDATE workspace.users SET display_name = 'me' WHERE id = $1", [ids.cy])).toEqual({ rowCount: 1 });
    expect(await sqlAs(ids.cy, "UPDATE workspace.users SET is_verified = true WHERE id = $1", [ids.cy])).toMatchObject({ error: expect.any(ForbiddenError) });
    // Nor are the organisation's name, settings or plan.
    expect(await sqlAs(ids.cy, "UPDATE workspace.organizations SET name = 'mine' WHERE id = $1", [org.id])).toEqual({ rowCount: 0 });
  });
});

describe("organisation settings and member status", () => {
  it("the owner and an admin change the organisation's name and settings; the plan is the platform's", async () => {
    const renamed = await ws.updateOrganization(t.db, bob, { name: "Renamed Ltd", settings: { locale: "en-ZA" } });
    expect(renamed).toMatchObject({ name: "Renamed Ltd", settings: { locale: "en-ZA" }, plan_type: org.plan_type });
    expect((await ws.updateOrganization(t.db, ann, { settings: { locale: "en" } })).name).toBe("Renamed Ltd");
    expect(await sqlAs(ids.ann, "UPDATE workspace.organizations SET plan_type = 'enterprise' WHERE id = $1", [org.id])).toMatchObject({
      error: expect.any(ForbiddenError), // no column privilege, even for the owner
    });
    const [row] = (await ws.auditLog(t.db, ann, { from: new Date(Date.now() - 60_000), to: new Date(Date.now() + 60_000) })).filter(
      (r) => r.action === "organization.updated" && r.user_id === ids.bob,
    );
    expect(row?.new_value).toEqual({ name: "Renamed Ltd", settings_keys: ["locale"] });
  });

  it("an admin deactivates and reactivates a member (users:update); never an owner", async () => {
    expect(await sqlAs(ids.bob, "UPDATE workspace.users SET is_active = false WHERE id = $1", [ids.cy])).toEqual({ rowCount: 1 });
    expect(await ws.permissionsOf(t.db, ann, { userId: ids.cy })).toEqual([]);
    // cy, deactivated, is no acting user any more: a context naming them sees no private data and may change nothing.
    expect(await errorOf(ws.createMemory(t.db, cy, { content: "still here?" }))).toBeInstanceOf(ForbiddenError);
    expect(await sqlAs(ids.bob, "UPDATE workspace.users SET is_active = true WHERE id = $1", [ids.cy])).toEqual({ rowCount: 1 });
    expect(await sqlAs(ids.bob, "UPDATE workspace.users SET is_active = false WHERE id = $1", [ids.ann])).toEqual({ rowCount: 0 });
  });
});

describe("an admin", () => {
  it("manages members and roles within their own permissions, but cannot make an owner or touch one", async () => {
    const helper = await ws.createRole(t.db, bob, { name: `helpers ${crypto.randomUUID()}`, permissions: ["templates:create", "audit:read"] });
    await ws.grantRole(t.db, bob, { userId: ids.cy, roleId: helper.id, expiresAt: new Date(Date.now() + 3_600_000) });
    expect(await ws.hasPermission(t.db, bob, { userId: ids.cy, permission: "templates:create" })).toBe(true);
    await ws.createTemplate(t.db, cy, { name: `cy's ${crypto.randomUUID()}`, documentType: "memo" });

    const before = await rbacState();
    // Not held by an admin: *, organization:delete, an application permission; so neither the owner role.
    for (const permissions of [["*"], ["organization:delete"], ["tasks:read"], ["organization:*"]]) {
      expect(await ws.createRole(t.db, bob, { name: `too much ${crypto.randomUUID()}`, permissions }).catch((e) => e), String(permissions)).toBeInstanceOf(
        ForbiddenError,
      );
    }
    expect(await ws.grantRole(t.db, bob, { userId: ids.bob, roleId: system.owner! }).catch((e) => e)).toBeInstanceOf(ForbiddenError);
    const revoke = await ws.revokeRole(t.db, bob, { userId: ids.ann, roleId: system.owner! }).catch((e) => e);
    expect(revoke).toBeInstanceOf(ForbiddenError);
    expect(revoke.message).toContain("does not hold");
    const remove = await ws.deleteUser(t.db, bob, { userId: ids.ann }).catch((e) => e);
    expect(remove).toBeInstanceOf(ForbiddenError);
    expect(await sqlAs(ids.bob, "UPDATE workspace.users SET is_active = false WHERE id = $1", [ids.ann])).toEqual({ rowCount: 0 });
    expect(await sqlAs(ids.bob, "UPDATE workspace.user_roles SET role_id = $1 WHERE user_id = $2", [system.owner, ids.bob])).toMatchObject({
      error: expect.any(ForbiddenError),
    });
    expect(await rbacState()).toBe(before);

    // A plain member: removable by the admin.
    const eve = await ws.createUser(t.db, bob, { email: `eve.${crypto.randomUUID()}@example.com` });
    await ws.deleteUser(t.db, bob, { userId: eve.id });
    expect(await ws.deleteUser(t.db, bob, { userId: eve.id }).catch((e) => e)).toBeInstanceOf(NotFoundError);
  });

  it("changes and deletes roles within their permissions only; system roles are nobody's to change", async () => {
    const r = await ws.createRole(t.db, bob, { name: `editors ${crypto.randomUUID()}`, permissions: ["templates:*"] });
    expect((await ws.updateRole(t.db, bob, { roleId: r.id, permissions: ["templates:create", "users:create"] })).permissions).toEqual([
      "templates:create",
      "users:create",
    ]);
    expect(await ws.updateRole(t.db, bob, { roleId: r.id, permissions: ["*"] }).catch((e) => e)).toBeInstanceOf(ForbiddenError);
    expect(await ws.updateRole(t.db, bob, { roleId: system.member!, name: "renamed" }).catch((e) => e)).toBeInstanceOf(ForbiddenError);
    expect(await ws.updateRole(t.db, bob, { roleId: crypto.randomUUID(), name: "x" }).catch((e) => e)).toBeInstanceOf(NotFoundError);
    // A role carrying more than the admin holds (made by the owner) is out of the admin's reach.
    const big = await ws.createRole(t.db, ann, { name: `app ${crypto.randomUUID()}`, permissions: ["tasks:read"] });
    expect(await ws.deleteRole(t.db, bob, { roleId: big.id }).catch((e) => e)).toBeInstanceOf(ForbiddenError);
    await ws.deleteRole(t.db, ann, { roleId: big.id });
    await ws.deleteRole(t.db, bob, { roleId: r.id });
    expect(await ws.deleteRole(t.db, bob, { roleId: r.id }).catch((e) => e)).toBeInstanceOf(NotFoundError);
  });

  it("loses the permissions when the grant expires, in the next transaction", async () => {
    const tmp = await ws.createUser(t.db, ann, { email: `tmp.${crypto.randomUUID()}@example.com` });
    await ws.grantRole(t.db, ann, { userId: tmp.id, roleId: system.admin!, expiresAt: new Date(Date.now() + 3_600_000) });
    await ws.createTemplate(t.db, as(tmp.id), { name: `tmp ${crypto.randomUUID()}`, documentType: "memo" });
    // Time passes (on the owner connection: granted_at too, so the CHECK expires_at > granted_at holds).
    await t.db.pool.query(
      "UPDATE workspace.user_roles SET granted_at = now() - interval '2 hours', expires_at = now() - interval '1 second' WHERE user_id = $1",
      [tmp.id],
    );
    expect(await ws.createTemplate(t.db, as(tmp.id), { name: "late", documentType: "memo" }).catch((e) => e)).toBeInstanceOf(ForbiddenError);
    expect(await ws.permissionsOf(t.db, ann, { userId: tmp.id })).toEqual([]);
  });
});

describe("the last owner", () => {
  it("cannot be revoked, deleted, deactivated or given an expiry; after a hand-over they can go", async () => {
    const lastOwner = async (call: Promise<unknown>) => {
      const err = await errorOf(call);
      expect(err).toBeInstanceOf(ConflictError);
      expect(err.constraint).toBe("organization_keeps_an_owner");
    };
    await lastOwner(ws.revokeRole(t.db, ann, { userId: ids.ann, roleId: system.owner! }));
    await lastOwner(ws.deleteUser(t.db, ann, { userId: ids.ann }));
    await lastOwner(ws.grantRole(t.db, ann, { userId: ids.ann, roleId: system.owner!, expiresAt: new Date(Date.now() + 3_600_000) }));
    expect(await sqlAs(ids.ann, "UPDATE workspace.users SET is_active = false WHERE id = $1", [ids.ann])).toMatchObject({ error: expect.any(ConflictError) });
    expect(await ws.permissionsOf(t.db, ann, { userId: ids.ann })).toEqual(["*"]);

    // Hand-over: Ann makes Dee an owner, then steps down to admin.
    await ws.grantRole(t.db, ann, { userId: ids.dee, roleId: system.owner! });
    await ws.grantRole(t.db, ann, { userId: ids.ann, roleId: system.admin! });
    await ws.revokeRole(t.db, ann, { userId: ids.ann, roleId: system.owner! });
    expect(await ws.permissionsOf(t.db, dee, { userId: ids.ann })).not.toContain("*");
    await lastOwner(ws.revokeRole(t.db, dee, { userId: ids.dee, roleId: system.owner! }));
    // Deleting the organisation itself is not "leaving it without an owner" (owner connection; cascades).
    const gone = await ws.createOrganization(t.db, platformContext(), { name: "to delete", owner: { email: `gone.${crypto.randomUUID()}@example.com` } });
    await t.db.pool.query("DELETE FROM workspace.organizations WHERE id = $1", [gone.id]);
    expect((await t.db.pool.query("SELECT count(*)::int AS n FROM workspace.user_roles WHERE organization_id = $1", [gone.id])).rows[0].n).toBe(0);
  });
});

/** A valid input for each operation that declares a permission (made fresh: some calls consume their target). */
const uniq = () => crypto.randomUUID();
const SAMPLES: Record<string, () => Promise<unknown>> = {
  "workspace.role.create": async () => ({ name: uniq(), permissions: [] }),
  "workspace.role.update": async () => ({ roleId: (await ws.createRole(t.db, ann, { name: uniq(), permissions: [] })).id, name: uniq() }),
  "workspace.role.delete": async () => ({ roleId: (await ws.createRole(t.db, ann, { name: uniq(), permissions: [] })).id }),
  "workspace.role.grant": async () => ({ userId: ids.cy, roleId: system.member }),
  "workspace.role.revoke": async () => {
    const role = await ws.createRole(t.db, ann, { name: uniq(), permissions: [] });
    await ws.grantRole(t.db, ann, { userId: ids.cy, roleId: role.id });
    return { userId: ids.cy, roleId: role.id };
  },
  "workspace.user.create": async () => ({ email: `${uniq()}@example.com` }),
  "workspace.user.delete": async () => ({ userId: (await ws.createUser(t.db, ann, { email: `${uniq()}@example.com` })).id }),
  "workspace.template.create": async () => ({ name: uniq(), documentType: "memo" }),
  "workspace.organization.update": async () => ({ settings: { locale: "en" } }),
  "workspace.audit.list": async () => ({ from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000) }),
};

describe("every operation that declares a permission (from the registry)", () => {
  const gated = operations().filter((o) => o.declaration.permission);
  type Call = (db: typeof t.db, ctx: ws.WorkspaceContext, input: unknown) => Promise<unknown>;

  it("has a sample input here (a new gated operation without one fails)", () => {
    expect(gated.map((o) => o.declaration.name).sort()).toEqual(Object.keys(SAMPLES).sort());
  });

  it.each(gated.map((o) => [o.declaration.name, o] as const))(
    "%s refuses a member without the permission and admits one holding exactly it",
    async (name, op) => {
      const permission = op.declaration.permission!;
      const member = await ws.createUser(t.db, ann, { email: `${uniq()}@example.com` });
      const input = await SAMPLES[name]!();
      const before = await rbacState();
      const err = await errorOf((op as unknown as Call)(t.db, as(member.id), input));
      expect(err).toBeInstanceOf(ForbiddenError);
      expect(err.message).toContain(permission);
      expect(await rbacState()).toBe(before);

      const just = await ws.createRole(t.db, ann, { name: `just ${permission} ${uniq()}`, permissions: [permission] });
      await ws.grantRole(t.db, ann, { userId: member.id, roleId: just.id });
      await (op as unknown as Call)(t.db, as(member.id), input);
    },
  );
});
