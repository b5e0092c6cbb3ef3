/**
 * Role-based access control inside an organisation: roles are named permission sets (`resource:action`,
 * `resource:*` for every action), grants may expire, and `hasPermission` honours expiry at query time.
 * System roles (organization_id NULL, made by migrations or the platform) can be granted but not changed
 * through `app`.
 */
import { z } from "zod";
import type { Db } from "../db/connect";
import { NotFoundError } from "../db/errors";
import { timestamp } from "../db/validate";
import { recordAudit, runField, runParsed, type WorkspaceContext } from "./context";
import { grantRole as grantQuery, hasPermission as hasPermissionQuery, type IInsertRoleResult, insertRole, revokeRole as revokeQuery, rolesOfUser } from "./queries/rbac.queries";

export type Role = IInsertRoleResult;
export const permission = z.string().regex(/^[a-z][a-z_]*:([a-z][a-z_]*|\*)$/, "must be resource:action, e.g. memories:read or tasks:*");

const roleSchema = z.object({
  name: z.string().trim().min(1).max(100),
  description: z.string().max(10_000).optional(),
  permissions: z.array(permission).max(200),
});

export async function createRole(db: Db, ctx: WorkspaceContext, input: z.input<typeof roleSchema>): Promise<Role> {
  return runParsed(db, ctx, "role.create", roleSchema, input, async (p, c) => {
    const [r] = await insertRole.run({ organizationId: ctx.organizationId, name: p.name, description: p.description ?? null, permissions: [...new Set(p.permissions)] }, c);
    await recordAudit(c, ctx, { action: "role.created", resourceType: "role", resourceId: r!.id, newValue: { name: r!.name, permissions: r!.permissions } });
    return r!;
  });
}

// expiresAt must lie ahead: the CHECK user_roles_expires_after_granted would refuse it anyway, but without naming the field.
const grantSchema = z.object({ userId: z.uuid(), roleId: z.uuid(), expiresAt: timestamp.refine((d) => d.getTime() > Date.now(), "must be in the future").optional() });

/** Grant a role (the organisation's or a system one) to a member; granting again renews it. */
export async function grantRole(db: Db, ctx: WorkspaceContext, input: z.input<typeof grantSchema>) {
  return runParsed(db, ctx, "role.grant", grantSchema, input, async (p, c) => {
    const [g] = await grantQuery.run({ userId: p.userId, roleId: p.roleId, organizationId: ctx.organizationId, grantedBy: ctx.userId, expiresAt: p.expiresAt ?? null }, c);
    await recordAudit(c, ctx, { action: "role.granted", resourceType: "user", resourceId: p.userId, newValue: { role_id: p.roleId, expires_at: p.expiresAt ?? null } });
    return g!;
  });
}

export async function revokeRole(db: Db, ctx: WorkspaceContext, input: { userId: string; roleId: string }): Promise<void> {
  await runParsed(db, ctx, "role.revoke", z.object({ userId: z.uuid(), roleId: z.uuid() }), input, async (p, c) => {
    const [row] = await revokeQuery.run(p, c);
    if (!row) throw new NotFoundError("no such grant");
    await recordAudit(c, ctx, { action: "role.revoked", resourceType: "user", resourceId: p.userId, oldValue: { role_id: p.roleId } });
  });
}

/** Does the user hold `permission` in the context's organisation through an unexpired grant? */
export async function hasPermission(db: Db, ctx: WorkspaceContext, userId: string, perm: string): Promise<boolean> {
  return runParsed(
    db,
    ctx,
    "role.check",
    z.object({ userId: z.uuid(), permission }),
    { userId, permission: perm },
    async (p, c) => (await hasPermissionQuery.run({ ...p, organizationId: ctx.organizationId }, c))[0]!.granted,
    { readOnly: true },
  );
}

export async function rolesOf(db: Db, ctx: WorkspaceContext, userId: string) {
  return runField(db, ctx, "role.list", "userId", z.uuid(), userId, (id, c) => rolesOfUser.run({ userId: id }, c), { readOnly: true });
}
