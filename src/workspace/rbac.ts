/**
 * Role-based access control inside an organisation: roles are named permission sets (`resource:action`,
 * `resource:*` for every action), grants may expire, and `hasPermission` honours expiry at query time.
 * System roles (organization_id NULL, made by migrations or the platform) can be granted but not changed
 * through `app`.
 */
import { z } from "zod";
import { many, one } from "../db/rows";
import { timestamp } from "../db/validate";
import { operation, recordAudit } from "./context";
import type { IInsertRoleResult } from "./queries/rbac.queries";
import { sql } from "./sql";

export type Role = IInsertRoleResult;
export const permission = z.string().regex(/^[a-z][a-z_]*:([a-z][a-z_]*|\*)$/, "must be resource:action, e.g. memories:read or tasks:*");

/** Create a role of the organisation: a named set of permissions. */
export const createRole = operation({
  name: "workspace.role.create",
  input: z.object({ name: z.string().trim().min(1).max(100), description: z.string().max(10_000).optional(), permissions: z.array(permission).max(200) }),
  kind: "write",
  affects: "organization",
  permission: "roles:create",
  context: "tenant",
  reveals: "tenant",
  audit: "change",
  async run(p, { c, ctx }): Promise<Role> {
    const r = await one(sql.rbac.insertRole, { organizationId: ctx.organizationId, ...p, permissions: [...new Set(p.permissions)] }, c);
    await recordAudit(c, ctx, { action: "role.created", resourceType: "role", resourceId: r.id, newValue: { name: r.name, permissions: r.permissions } });
    return r;
  },
});

const grant = z.object({ userId: z.uuid(), roleId: z.uuid() });

/** Grant a role (the organisation's or a system one) to a member; granting again renews it. */
export const grantRole = operation({
  name: "workspace.role.grant",
  // expiresAt must lie ahead: the CHECK user_roles_expires_after_granted would refuse it anyway, but without naming the field.
  input: grant.extend({ expiresAt: timestamp.refine((d) => d.getTime() > Date.now(), "must be in the future").optional() }),
  kind: "write",
  affects: "organization",
  permission: "roles:grant",
  context: "tenant",
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

/** Take a role away from a member. */
export const revokeRole = operation({
  name: "workspace.role.revoke",
  input: grant,
  kind: "write",
  affects: "organization",
  permission: "roles:revoke",
  context: "tenant",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx }): Promise<void> {
    await one(sql.rbac.revokeRole, p, c, "no such grant");
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
  run: async (p, { c, ctx }) => (await one(sql.rbac.hasPermission, { ...p, organizationId: ctx.organizationId }, c)).granted,
});

/** The user's roles in the organisation, with their grants' expiry. */
export const rolesOf = operation({
  name: "workspace.role.list",
  input: z.object({ userId: z.uuid() }),
  kind: "read",
  context: "tenant",
  reveals: "tenant",
  audit: "none",
  run: (p, { c }) => many(sql.rbac.rolesOfUser, p, c),
});
