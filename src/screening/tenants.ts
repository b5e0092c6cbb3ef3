/**
 * Tenants: created, updated and deactivated by the platform (owner connection), read by slug; a tenant may
 * rename itself. The slug is the tenant's stable identity and never changes.
 */
import { z } from "zod";
import type pg from "pg";
import type { Db } from "../db/connect";
import type { PlatformContext } from "../db/operation";
import { one } from "../db/rows";
import { setLocalTenant } from "../db/tx";
import { operation, platformOperation, recordEvent, requestContext } from "./context";
import type { IInsertTenantResult } from "./queries/tenants.queries";
import { sql } from "./sql";

export type Tenant = IInsertTenantResult;

const name = z.string().trim().min(1).max(200);
const slug = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be lower-case letters, digits and inner hyphens, at most 63 chars");

/** The tenant's own audit trail is under RLS even for its owner: write the event as that tenant. */
async function recordTenantEvent(
  c: pg.ClientBase,
  db: Db,
  ctx: PlatformContext,
  tenantId: string,
  type: "tenant_created" | "tenant_updated" | "tenant_deactivated",
  details?: Record<string, unknown>,
) {
  await setLocalTenant(c, tenantId);
  await recordEvent(c, db, requestContext({ tenantId, actorId: ctx.actorId, correlationId: ctx.correlationId }), type, { details });
}

/** Create a tenant; its first audit event (tenant_created) is written in the same transaction. */
export const createTenant = platformOperation({
  name: "screening.tenant.create",
  input: z.object({ slug, name }),
  kind: "write",
  affects: "platform",
  context: "platform",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx, db }) {
    const tenant = await one(sql.tenants.insertTenant, p, c);
    await recordTenantEvent(c, db, ctx, tenant.tenant_id, "tenant_created", { slug: tenant.slug });
    return tenant;
  },
});

/** The tenant with this slug (a NotFoundError when there is none). */
export const tenantBySlug = platformOperation({
  name: "screening.tenant.by_slug",
  input: z.object({ slug }),
  kind: "read",
  context: "platform",
  reveals: "nothing",
  audit: "none",
  oneStatement: true,
  run: (p, { c }) => one(sql.tenants.tenantBySlug, p, c, `tenant "${p.slug}" does not exist`),
});

/** Deactivate a tenant (its data stays). */
export const deactivateTenant = platformOperation({
  name: "screening.tenant.deactivate",
  input: z.object({ tenantId: z.uuid() }),
  kind: "write",
  affects: "platform",
  context: "platform",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx, db }) {
    const tenant = await one(sql.tenants.deactivateTenant, p, c, "tenant does not exist");
    await recordTenantEvent(c, db, ctx, p.tenantId, "tenant_deactivated");
    return tenant;
  },
});

/**
 * The platform changes a tenant: its name, and whether it is active (true reactivates a deactivated tenant;
 * false is what deactivateTenant does, recorded here as tenant_updated). One tenant_updated event names what
 * was set; at least one of name and isActive.
 */
export const updateTenant = platformOperation({
  name: "screening.tenant.update",
  input: z
    .object({ tenantId: z.uuid(), name: name.optional(), isActive: z.boolean().optional() })
    .refine((p) => p.name !== undefined || p.isActive !== undefined, { message: "give name or isActive", path: ["name"] }),
  kind: "write",
  affects: "platform",
  context: "platform",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx, db }) {
    const tenant = await one(sql.tenants.updateTenant, p, c, "tenant does not exist");
    await recordTenantEvent(c, db, ctx, p.tenantId, "tenant_updated", {
      ...(p.name !== undefined && { name: tenant.name }),
      ...(p.isActive !== undefined && { is_active: tenant.is_active }),
    });
    return tenant;
  },
});

/**
 * The caller's tenant renames itself. Screening has no roles of its own: the application decides who may
 * call this. As `app`, a tenant can change only its own name (column grant and policy own_tenant).
 */
export const renameTenant = operation({
  name: "screening.tenant.rename",
  input: z.object({ name }),
  kind: "write",
  affects: "tenant",
  context: "tenant",
  reveals: "tenant",
  audit: "change",
  async run(p, { c, ctx, db }) {
    const tenant = await one(sql.tenants.renameTenant, { tenantId: ctx.tenantId, name: p.name }, c, "tenant does not exist");
    await recordEvent(c, db, ctx, "tenant_updated", { details: { name: tenant.name } });
    return tenant;
  },
});
