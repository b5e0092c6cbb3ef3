/**
 * Privilege escalation, property-based (fast-check model-based commands).
 *
 * Each run: a fresh organisation (its creator the owner) and three plain members. Random commands by random
 * members: create, change and delete roles with random permission sets (wildcards included), grant roles
 * (permanent or expiring), let expiring grants run out, revoke, add and remove members, and the same moves
 * as hand-written SQL as `app`. The model knows the rules (a permission is needed for each change; nobody
 * grants, edits or revokes beyond what they hold; nobody removes someone holding more; the last permanent
 * owner stays) and predicts each outcome. After every command:
 *   - the outcome is the predicted one (success, or the predicted typed error);
 *   - a refused command changed nothing (checksum of roles, grants and members);
 *   - every member's permissions in the database are exactly the model's: no sequence lets a member reach a
 *     permission that no chain of grants from an owner gave them.
 * FC_RUNS sets the number of runs (default 6).
 */
import crypto from "node:crypto";
import fc from "fast-check";
import type pg from "pg";
import { describe, expect, it } from "vitest";
import { ConflictError, ForbiddenError, NotFoundError } from "../../src/db/errors";
import { platformContext } from "../../src/db/operation";
import * as ws from "../../src/workspace";
import { useTestDb } from "../support/db";
import { inSavepoint } from "../support/probe";
import { tablesChecksum } from "../support/workspace-fixtures";

const t = useTestDb();
const RUNS = Number(process.env.FC_RUNS ?? 6);
const HOUR = 3_600_000;

/** Permission sets roles are drawn from: vocabulary, wildcards, `*`, and an application permission. */
const PERMS = [
  "*",
  "users:*",
  "users:create",
  "users:delete",
  "roles:*",
  "roles:create",
  "roles:grant",
  "roles:revoke",
  "roles:update",
  "roles:delete",
  "audit:read",
  "tasks:read",
];

type Outcome = null | typeof ForbiddenError | typeof NotFoundError | typeof ConflictError;

interface Grant {
  user: string;
  role: string;
  /** null: permanent; "future": expires later; "expired": ran out. */
  expiry: null | "future" | "expired";
}
interface Model {
  org: string;
  users: string[];
  roles: Map<string, { perms: string[]; system: boolean }>;
  grants: Map<string, Grant>;
  ownerRole: string;
  stats: { ok: number; refused: number; sql: number };
}
interface Real {
  db: typeof t.db;
}

const key = (user: string, role: string) => `${user}/${role}`;
const held = (m: Model, user: string) =>
  m.users.includes(user) ? [...m.grants.values()].filter((g) => g.user === user && g.expiry !== "expired").flatMap((g) => m.roles.get(g.role)!.perms) : [];
/** workspace.permission_covers */
const covers = (h: string[], wanted: string) => h.includes("*") || h.includes(wanted) || h.includes(`${wanted.split(":")[0]}:*`);
const holds = (m: Model, user: string, p: string) => covers(held(m, user), p);
const holdsAll = (m: Model, user: string, ps: string[]) => ps.every((p) => holds(m, user, p));
const permanentOwners = (m: Model) => [...m.grants.values()].filter((g) => g.role === m.ownerRole && g.expiry === null && m.users.includes(g.user));
const pick = <T>(xs: T[], i: number) => xs[i % xs.length] as T;
const orgRoles = (m: Model) => [...m.roles.entries()].filter(([, r]) => !r.system).map(([id]) => id);

const ctx = (m: Model, user: string) => ws.workspaceContext({ organizationId: m.org, userId: user });
const state = (r: Real) => tablesChecksum(r.db, ["workspace.roles", "workspace.user_roles", "workspace.users"]);

/** Run a call whose outcome the model predicted; a refusal must leave roles, grants and members as they were. */
async function expectOutcome<T>(m: Model, r: Real, label: string, want: Outcome, call: () => Promise<T>): Promise<T | undefined> {
  const before = want === null ? "" : await state(r);
  const got = await call().then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if ("error" in got) {
    if (want === null) throw new Error(`${label}: expected success, got ${String(got.error)}`, { cause: got.error });
    expect(got.error, label).toBeInstanceOf(want);
    expect(await state(r), `${label}: a refused change changed nothing`).toBe(before);
    m.stats.refused++;
    return undefined;
  }
  expect(want?.name, `${label}: expected ${want?.name}, but it succeeded`).toBeUndefined();
  m.stats.ok++;
  return got.value;
}

/** After every command: each member's permissions in the database are the model's. */
async function agree(m: Model, r: Real) {
  const rows = await r.db.tenant(m.org, (c: pg.PoolClient) =>
    c.query<{ id: string; p: string[] }>("SELECT id, workspace.permissions_of(id) AS p FROM workspace.users ORDER BY id"),
  );
  const db = Object.fromEntries(rows.rows.map((x) => [x.id, [...x.p].sort()]));
  const model = Object.fromEntries([...m.users].sort().map((u) => [u, [...new Set(held(m, u))].sort()]));
  expect(db).toEqual(model);
}

abstract class Cmd implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly who: number,
    readonly a: number,
    readonly b: number,
  ) {}
  check = () => true;
  abstract name: string;
  abstract step(m: Model, r: Real, actor: string): Promise<void>;
  async run(m: Model, r: Real) {
    // Two commands in five by a permanent owner (their grants make the others' attempts interesting).
    const owner = permanentOwners(m)[0]!.user;
    await this.step(m, r, this.who < 40 ? owner : pick(m.users, this.who));
    await agree(m, r);
  }
  toString = () => `${this.name}(${this.who}, ${this.a}, ${this.b})`;
}

class CreateRole extends Cmd {
  name = "createRole";
  constructor(
    who: number,
    readonly perms: string[],
  ) {
    super(who, 0, 0);
  }
  async step(m: Model, r: Real, actor: string) {
    const want = holds(m, actor, "roles:create") && holdsAll(m, actor, this.perms) ? null : ForbiddenError;
    const role = await expectOutcome(m, r, `createRole ${this.perms} by ${actor}`, want, () =>
      ws.createRole(r.db, ctx(m, actor), { name: crypto.randomUUID(), permissions: this.perms }),
    );
    if (role) m.roles.set(role.id, { perms: this.perms, system: false });
  }
}

class UpdateRole extends Cmd {
  name = "updateRole";
  constructor(
    who: number,
    a: number,
    readonly perms: string[],
  ) {
    super(who, a, 0);
  }
  async step(m: Model, r: Real, actor: string) {
    const roleId = pick([...m.roles.keys()], this.a);
    const role = m.roles.get(roleId)!;
    const want = holds(m, actor, "roles:update") && !role.system && holdsAll(m, actor, role.perms) && holdsAll(m, actor, this.perms) ? null : ForbiddenError;
    const done = await expectOutcome(m, r, `updateRole ${roleId} ${role.perms} -> ${this.perms} by ${actor}`, want, () =>
      ws.updateRole(r.db, ctx(m, actor), { roleId, permissions: this.perms }),
    );
    if (done) role.perms = this.perms;
  }
}

class DeleteRole extends Cmd {
  name = "deleteRole";
  async step(m: Model, r: Real, actor: string) {
    const ids = orgRoles(m);
    if (!ids.length) return;
    const roleId = pick(ids, this.a);
    const role = m.roles.get(roleId)!;
    const want = holds(m, actor, "roles:delete") && holdsAll(m, actor, role.perms) ? null : ForbiddenError;
    await expectOutcome(m, r, `deleteRole ${roleId} by ${actor}`, want, () => ws.deleteRole(r.db, ctx(m, actor), { roleId }));
    if (want === null) {
      m.roles.delete(roleId);
      for (const [k, g] of m.grants) if (g.role === roleId) m.grants.delete(k);
    }
  }
}

class Grant_ extends Cmd {
  name = "grant";
  constructor(
    who: number,
    a: number,
    b: number,
    readonly expiring: boolean,
  ) {
    super(who, a, b);
  }
  async step(m: Model, r: Real, actor: string) {
    const user = pick(m.users, this.a);
    const roleId = pick([...m.roles.keys()], this.b);
    const before = m.grants.get(key(user, roleId));
    const want: Outcome = !(holds(m, actor, "roles:grant") && holdsAll(m, actor, m.roles.get(roleId)!.perms))
      ? ForbiddenError
      : roleId === m.ownerRole && this.expiring && before?.expiry === null && permanentOwners(m).length === 1
        ? ConflictError
        : null;
    const g = await expectOutcome(m, r, `grant ${roleId} to ${user} by ${actor}${this.expiring ? " (expiring)" : ""}`, want, () =>
      ws.grantRole(r.db, ctx(m, actor), { userId: user, roleId, ...(this.expiring ? { expiresAt: new Date(Date.now() + HOUR) } : {}) }),
    );
    if (g) m.grants.set(key(user, roleId), { user, role: roleId, expiry: this.expiring ? "future" : null });
  }
}

class Revoke extends Cmd {
  name = "revoke";
  async step(m: Model, r: Real, actor: string) {
    // Half the time an existing grant, otherwise any member and role.
    const existing = [...m.grants.values()];
    const g = this.b % 2 === 0 && existing.length ? pick(existing, this.a) : undefined;
    const user = g ? g.user : pick(m.users, this.a);
    const roleId = g ? g.role : pick([...m.roles.keys()], this.b);
    const grant = m.grants.get(key(user, roleId));
    const want: Outcome = !holds(m, actor, "roles:revoke")
      ? ForbiddenError
      : !grant
        ? NotFoundError
        : !holdsAll(m, actor, m.roles.get(roleId)!.perms)
          ? ForbiddenError
          : roleId === m.ownerRole && grant.expiry === null && permanentOwners(m).length === 1
            ? ConflictError
            : null;
    await expectOutcome(m, r, `revoke ${roleId} of ${user} by ${actor}`, want, () => ws.revokeRole(r.db, ctx(m, actor), { userId: user, roleId }));
    if (want === null) m.grants.delete(key(user, roleId));
  }
}

/** Time passes: an expiring grant runs out (on the owner connection, granted_at moved back too). */
class Expire extends Cmd {
  name = "expire";
  async step(m: Model, r: Real) {
    const expiring = [...m.grants.values()].filter((g) => g.expiry === "future");
    if (!expiring.length) return;
    const g = pick(expiring, this.a);
    await r.db.pool.query(
      "UPDATE workspace.user_roles SET granted_at = now() - interval '2 hours', expires_at = now() - interval '1 second' WHERE user_id = $1 AND role_id = $2",
      [g.user, g.role],
    );
    g.expiry = "expired";
  }
}

class CreateUser extends Cmd {
  name = "createUser";
  async step(m: Model, r: Real, actor: string) {
    if (m.users.length >= 8) return;
    const want = holds(m, actor, "users:create") ? null : ForbiddenError;
    const u = await expectOutcome(m, r, `createUser by ${actor}`, want, () =>
      ws.createUser(r.db, ctx(m, actor), { email: `${crypto.randomUUID()}@escalation.example` }),
    );
    if (u) m.users.push(u.id);
  }
}

/** Removing a member: users:delete, only someone holding no more than the actor, never the last permanent owner. */
function deleteOutcome(m: Model, actor: string, user: string): Outcome {
  if (!holds(m, actor, "users:delete")) return ForbiddenError;
  if (!holdsAll(m, actor, held(m, user))) return ForbiddenError;
  const owners = permanentOwners(m);
  return owners.length === 1 && owners[0]!.user === user ? ConflictError : null;
}
function forget(m: Model, user: string) {
  m.users = m.users.filter((u) => u !== user);
  for (const [k, g] of m.grants) if (g.user === user) m.grants.delete(k);
}

class DeleteUser extends Cmd {
  name = "deleteUser";
  async step(m: Model, r: Real, actor: string) {
    const user = pick(m.users, this.a);
    const want = deleteOutcome(m, actor, user);
    await expectOutcome(m, r, `deleteUser ${user} by ${actor}`, want, () => ws.deleteUser(r.db, ctx(m, actor), { userId: user }));
    if (want === null) forget(m, user);
  }
}

/** The same moves as hand-written SQL as `app` in the actor's context (what a developer's query could try). */
class Sql extends Cmd {
  name = "sql";
  constructor(
    who: number,
    a: number,
    b: number,
    readonly kind: "role" | "grant" | "permanent" | "delete",
    readonly perms: string[],
  ) {
    super(who, a, b);
  }
  override toString = () => `sql:${this.kind}(${this.who}, ${this.a}, ${this.b}, ${this.perms})`;
  async step(m: Model, r: Real, actor: string) {
    m.stats.sql++;
    const run = (sql: string, params: unknown[]) => r.db.tenant({ tenantId: m.org, userId: actor }, (c: pg.PoolClient) => inSavepoint(c, sql, params));
    const before = await state(r);
    const label = `${this.toString()} as ${actor}`;
    const refused = async (res: Awaited<ReturnType<typeof run>>, want: Outcome) => {
      expect(res, label).toMatchObject({ error: expect.any(want!) });
      expect(await state(r), `${label}: changed nothing`).toBe(before);
    };
    switch (this.kind) {
      case "role": {
        const res = await run("INSERT INTO workspace.roles (organization_id, name, permissions) VALUES ($1, $2, $3) RETURNING id", [
          m.org,
          crypto.randomUUID(),
          this.perms,
        ]);
        if (holds(m, actor, "roles:create") && holdsAll(m, actor, this.perms)) {
          expect(res, label).toMatchObject({ rowCount: 1, row: { id: expect.any(String) } });
          m.roles.set((res as { row: { id: string } }).row.id, { perms: this.perms, system: false });
        } else await refused(res, ForbiddenError);
        return;
      }
      case "grant": {
        const user = pick(m.users, this.a);
        const roleId = pick([...m.roles.keys()], this.b);
        if (m.grants.has(key(user, roleId))) return; // a plain INSERT of an existing grant is a key conflict: not the point here
        const res = await run("INSERT INTO workspace.user_roles (user_id, role_id, organization_id) VALUES ($1, $2, $3)", [user, roleId, m.org]);
        if (holds(m, actor, "roles:grant") && holdsAll(m, actor, m.roles.get(roleId)!.perms)) {
          expect(res, label).toEqual({ rowCount: 1 });
          m.grants.set(key(user, roleId), { user, role: roleId, expiry: null });
        } else await refused(res, ForbiddenError);
        return;
      }
      case "permanent": {
        // Make one's own expiring or expired grants permanent: only where the actor may grant that role anyway.
        const res = await run("UPDATE workspace.user_roles SET expires_at = NULL WHERE user_id = $1 AND expires_at IS NOT NULL", [actor]);
        const may = [...m.grants.values()].filter(
          (g) => g.user === actor && g.expiry !== null && holds(m, actor, "roles:grant") && holdsAll(m, actor, m.roles.get(g.role)!.perms),
        );
        expect(res, label).toEqual({ rowCount: may.length });
        for (const g of may) g.expiry = null;
        return;
      }
      case "delete": {
        const user = pick(m.users, this.a);
        const want = deleteOutcome(m, actor, user);
        const res = await run("DELETE FROM workspace.users WHERE id = $1", [user]);
        if (want === null) {
          expect(res, label).toEqual({ rowCount: 1 });
          forget(m, user);
        } else if (want === ConflictError) await refused(res, ConflictError);
        else {
          expect(res, label).toEqual({ rowCount: 0 }); // not visible to the DELETE: nothing happens
          expect(await state(r)).toBe(before);
        }
        return;
      }
    }
  }
}

const idx = fc.nat({ max: 99 });
const perms = fc.subarray(PERMS, { maxLength: 3 });
const commands = fc.commands(
  [
    fc.tuple(idx, perms).map(([w, p]) => new CreateRole(w, p)),
    fc.tuple(idx, idx, perms).map(([w, a, p]) => new UpdateRole(w, a, p)),
    fc.tuple(idx, idx).map(([w, a]) => new DeleteRole(w, a, 0)),
    fc.tuple(idx, idx, idx, fc.boolean()).map(([w, a, b, e]) => new Grant_(w, a, b, e)),
    fc.tuple(idx, idx, idx, fc.boolean()).map(([w, a, b, e]) => new Grant_(w, a, b, e)),
    fc.tuple(idx, idx, idx).map(([w, a, b]) => new Revoke(w, a, b)),
    fc.tuple(idx).map(([a]) => new Expire(0, a, 0)),
    fc.tuple(idx).map(([w]) => new CreateUser(w, 0, 0)),
    fc.tuple(idx, idx).map(([w, a]) => new DeleteUser(w, a, 0)),
    fc
      .tuple(idx, idx, idx, fc.constantFrom("role" as const, "grant" as const, "permanent" as const, "delete" as const), perms)
      .map(([w, a, b, k, p]) => new Sql(w, a, b, k, p)),
  ],
  { maxCommands: 40, size: "max" },
);

describe("privilege escalation (property-based)", () => {
  it(`no sequence of operations or SQL as app lets a member reach a permission no owner gave them; refused changes change nothing (${RUNS} runs)`, async () => {
    const totals = { runs: 0, commands: 0, ok: 0, refused: 0, sql: 0 };
    let system: Map<string, { perms: string[]; system: boolean }> | undefined;
    let ownerRole = "";
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        const tag = crypto.randomBytes(4).toString("hex");
        const org = await ws.createOrganization(t.db, platformContext(), { name: `esc ${tag}`, owner: { email: `owner.${tag}@escalation.example` } });
        const owner = ws.workspaceContext({ organizationId: org.id, userId: org.owner.id });
        if (!system) {
          system = new Map();
          for (const r of await ws.listRoles(t.db, owner)) {
            if (!r.is_system || !["owner", "admin", "member"].includes(r.name)) continue;
            system.set(r.id, { perms: r.permissions, system: true });
            if (r.name === "owner") ownerRole = r.id;
          }
        }
        const users = [org.owner.id];
        for (let i = 0; i < 3; i++) users.push((await ws.createUser(t.db, owner, { email: `m${i}.${tag}@escalation.example` })).id);
        const m: Model = {
          org: org.id,
          users,
          roles: new Map([...system].map(([id, r]) => [id, { ...r }])),
          grants: new Map([[key(org.owner.id, ownerRole), { user: org.owner.id, role: ownerRole, expiry: null }]]),
          ownerRole,
          stats: { ok: 0, refused: 0, sql: 0 },
        };
        await agree(m, { db: t.db });
        await fc.asyncModelRun(() => ({ model: m, real: { db: t.db } }), cmds);
        totals.runs++;
        totals.commands += [...cmds].length;
        totals.ok += m.stats.ok;
        totals.refused += m.stats.refused;
        totals.sql += m.stats.sql;
        // The organisation still has its permanent owner, whatever happened.
        expect(permanentOwners(m).length).toBeGreaterThan(0);
      }),
      { numRuns: RUNS },
    );
    console.log(
      `[escalation] ${totals.runs} runs, ${totals.commands} commands: ${totals.ok} changes made as predicted, ${totals.refused} refused as predicted, ${totals.sql} SQL-as-app attempts`,
    );
    expect(totals.refused).toBeGreaterThan(0);
    expect(totals.ok).toBeGreaterThan(0);
  }, 600_000);
});
