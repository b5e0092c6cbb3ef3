/** Tenants: created and deactivated by the platform (owner connection), read by slug. */
import { z } from "zod";
import type pg from "pg";
import type { Db } from "../db/connect";
import type { PlatformContext } from "../db/operation";
import { one } from "../db/rows";
import { setLocalTenant } from "../db/tx";
import { platformOperation, recordEvent, requestContext } from "./context";
import type { IInsertTenantResult } from "./queries/tenants.queries";
import { sql } from "./sql";

export type Tenant = IInsertTenantResult;

const slug = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be lower-case letters, digits and inner hyphens, at most 63 chars");

/** The tenant's own audit trail is under RLS even for its owner: write the event as that tenant. */
async function recordTenantEvent(
  c: pg.ClientBase,
  db: Db,
  ctx: PlatformContext,
  tenantId: string,
  type: "tenant_created" | "tenant_deactivated",
  details?: Record<string, unknown>,
) {
  await setLocalTenant(c, tenantId);
  await recordEvent(c, db, requestContext({ tenantId, actorId: ctx.actorId, correlationId: ctx.correlationId }), type, { details });
}

/** Create a tenant; its first audit event (tenant_created) is written in the same transaction. */
export const createTenant = platformOperation({
  name: "screening.tenant.create",
  input: z.object({ slug, name: z.string().trim().min(1).max(200) }),
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
