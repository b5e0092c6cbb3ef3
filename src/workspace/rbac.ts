/**
 * Role-based access control inside an organisation.
 *
 * A role is a named set of permissions: `resource:action`, `resource:*` (every action on the resource) or
 * `*` (everything). Grants may expire; an expired grant counts for nothing. The organisation-wide changes
 * that need a permission are PERMISSIONS below; operations declare theirs (`permission:`) and the runner
 * checks it in the operation's transaction. The database holds the same line for SQL as `app`
 * (migrations/*_workspace_permissions.sql): writing roles, grants, members, templates and reading the audit
 * trail need the permission, nobody grants, edits or revokes a role carrying a permission they do not hold,
 * nobody removes a member who holds more than they do, and the last owner stays.
 *
 * System roles (organization_id NULL, seeded by the migration, read-only for `app`): owner (`*`), admin
 * (everything but deleting the organisation and touching owners), member (no permission).
 */
import { z } from "zod";
import { many, maybeOne, one } from "../db/rows";
import { timestamp } from "../db/validate";
import { operation, recordAudit, refusal } from "./context";
import type { IInsertRoleResult } from "./queries/rbac.queries";
import { sql } from "./sql";

export type Role = IInsertRoleResult;

/** The permissions the service and the database enforce, each with what it allows. */
export const PERMISSIONS = {
  "organization:update": "change the organisation's name and settings",
  "organization:delete": "delete the organisation and everything in it",
  "users:create": "add a member",
  "users:update": "change another member's profile, deactivate or reactivate a member",
  "users:delete": "remove a member (their private data goes with them)",
  "roles:create": "create a role of the organisation",
  "roles:update": "change a role of the organisation",
  "roles:delete": "delete a role of the organisation (its grants go with it)",
  "roles:grant": "grant a role to a member, or renew a grant",
  "roles:revoke": "take a role away from a member",
  "templates:create": "add a document template of the organisation",
  "templates:update": "change a template of the organisation",
  "templates:delete": "delete a template of the organisation",
  "audit:read": "read the organisation's audit trail",
} as const;
export type Permission = keyof typeof PERMISSIONS;

/** A permission to check: `resource:action`. */
export const permission = z.string().regex(/^[a-z][a-z_]*:[a-z][a-z_]*$/, "must be resource:action, e.g. users:create");
/** A permission a role may carry: `resource:action`, `resource:*` or `*`. */
export const rolePermission = z.string().regex(/^(\*|[a-z][a-z_]*:([a-z][a-z_]*|\*))$/, "must be resource:action, resource:* or *, e.g. users:create");

const roleName = z.string().trim().min(1).max(100);
const description = z.string().max(10_000);
const permissions = z.array(rolePermission).max(200);
const unique = (ps: string[]) => [...new Set(ps)];

const GUARDED_ROLE = "the role is a system role or carries permissions the acting user does not hold";

/** Create a role of the organisation: a named set of permissions, none of them beyond the creator's own. */
export const createRole = operation({
  name: "workspace.role.create",
  input: z.object({ name: roleName, description: description.optional(), permissions }),
  kind: "write",
  affects: "organization",
  permission: "roles:create",
  context: "user",
  reveals: "tenant",
  audit: "change",
  async run(p, { c, ctx }): Promise<Role> {
    const r = await one(sql.rbac.insertRole, { organizationId: ctx.organizationId, ...p, permissions: unique(p.permissions) }, c);
    await recordAudit(c, ctx, { action: "role.created", resourceType: "role", resourceId: r.id, newValue: { name: r.name, permissions: r.permissions } });
    return r;
  },
});

/** Change a role of the organisation; fields left out keep their value. Its old and new permissions must be within the actor's. */
export const updateRole = operation({
  name: "workspace.role.update",
  input: z.object({ roleId: z.uuid(), name: roleName.optional(), description: description.optional(), permissions: permissions.optional() }),
  kind: "write",
  affects: "organization",
  permission: "roles:update",
  context: "user",
  reveals: "tenant",
  audit: "change",
  async run(p, { c, ctx }): Promise<Role> {
    const params = {
      id: p.roleId,
      organizationId: ctx.organizationId,
      name: p.name,
      description: p.description,
      permissions: p.permissions && unique(p.permissions),
    };
    const r =
      (await maybeOne(sql.rbac.updateRole, params, c)) ?? (await refusal(maybeOne(sql.rbac.getRole, { id: p.roleId }, c), GUARDED_ROLE, "role not found"));
    await recordAudit(c, ctx, { action: "role.updated", resourceType: "role", resourceId: r.id, newValue: { name: r.name, permissions: r.permissions } });
    return r;
  },
});

/** Delete a role of the organisation; its grants go with it. */
export const deleteRole = operation({
  name: "workspace.role.delete",
  input: z.object({ roleId: z.uuid() }),
  kind: "write",
  affects: "organization",
  permission: "roles:delete",
  context: "user",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx }): Promise<void> {
    const r =
      (await maybeOne(sql.rbac.deleteRole, { id: p.roleId, organizationId: ctx.organizationId }, c)) ??
      (await refusal(maybeOne(sql.rbac.getRole, { id: p.roleId }, c), GUARDED_ROLE, "role not found"));
    await recordAudit(c, ctx, { action: "role.deleted", resourceType: "role", resourceId: r.id, oldValue: { name: r.name } });
  },
});

/** The roles the organisation can grant: its own and the system ones (owner, admin, member). */
export const listRoles = operation({
  name: "workspace.role.available",
  input: z.object({}),
  kind: "read",
  context: "tenant",
  reveals: "tenant",
  audit: "none",
  oneStatement: true,
  run: (_p, { c }): Promise<Role[]> => many(sql.rbac.listRoles, undefined, c),
});

const grant = z.object({ userId: z.uuid(), roleId: z.uuid() });

/** Grant a role (the organisation's or a system one) to a member; granting again renews it. Only roles within the grantor's own permissions. */
export const grantRole = operation({
  name: "workspace.role.grant",
  // expiresAt must lie ahead: the CHECK user_roles_expires_after_granted would refuse it anyway, but without naming the field.
  input: grant.extend({ expiresAt: timestamp.refine((d) => d.getTime() > Date.now(), "must be in the future").optional() }),
  kind: "write",
  affects: "organization",
  permission: "roles:grant",
  context: "user",
  reveals: "tenant",
  audit: "change",
  async run(p, { c, ctx }) {
    const g = await one(sql.rbac.grantRole, { ...p, organizationId: ctx.organizationId, grantedBy: ctx.userId }, c);
    await recordAudit(c, ctx, {
      action: "role.granted",
      resourceType: "user",
      resourceId: p.userId,
      newValue: { role_id: p.roleId, expires_at: p.expiresAt ?? null },
    });
    return g;
  },
});

/** Take a role away from a member: only a role within the actor's own permissions, and never the last owner's. */
export const revokeRole = operation({
  name: "workspace.role.revoke",
  input: grant,
  kind: "write",
  affects: "organization",
  permission: "roles:revoke",
  context: "user",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx }): Promise<void> {
    if (!(await maybeOne(sql.rbac.revokeRole, p, c))) {
      const granted = many(sql.rbac.rolesOfUser, { userId: p.userId }, c).then((rs) => rs.find((r) => r.id === p.roleId));
      await refusal(granted, "the role carries permissions the acting user does not hold", "no such grant");
    }
    await recordAudit(c, ctx, { action: "role.revoked", resourceType: "user", resourceId: p.userId, oldValue: { role_id: p.roleId } });
  },
});

/** Does the user hold `permission` in the context's organisation through an unexpired grant? */
export const hasPermission = operation({
  name: "workspace.role.check",
  input: z.object({ userId: z.uuid(), permission }),
  kind: "read",
  context: "tenant",
  reveals: "tenant",
  audit: "none",
  oneStatement: true,
  run: async (p, { c }) => (await one(sql.rbac.hasPermission, p, c)).granted,
});

/** Every permission the user holds in the organisation through unexpired grants (`*` and `resource:*` as granted). */
export const permissionsOf = operation({
  name: "workspace.role.permissions",
  input: z.object({ userId: z.uuid() }),
  kind: "read",
  context: "tenant",
  reveals: "tenant",
  audit: "none",
  oneStatement: true,
  run: async (p, { c }): Promise<string[]> => (await one(sql.rbac.permissionsOfUser, p, c)).permissions,
});

/** The user's roles in the organisation, with their grants' expiry. */
export const rolesOf = operation({
  name: "workspace.role.list",
  input: z.object({ userId: z.uuid() }),
  kind: "read",
  context: "tenant",
  reveals: "tenant",
  audit: "none",
  oneStatement: true,
  run: (p, { c }) => many(sql.rbac.rolesOfUser, p, c),
});
