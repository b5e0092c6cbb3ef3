/** Tenants: created and deactivated by the platform (owner connection), read by slug. */
import crypto from "node:crypto";
import { z } from "zod";
import type { Db } from "../db/connect";
import { NotFoundError } from "../db/errors";
import { setLocalTenant } from "../db/tx";
import { parseInput } from "../db/validate";
import { recordEvent, requestContext } from "./context";
import { deactivateTenant as deactivateQuery, type IInsertTenantResult, insertTenant, tenantBySlug } from "./queries/tenants.queries";

export type Tenant = IInsertTenantResult;

const slug = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be lower-case letters, digits and inner hyphens, at most 63 chars");

/** Create a tenant; its first audit event (tenant_created) is written in the same transaction. */
export async function createTenant(db: Db, input: { slug: string; name: string }, actorId: string | null = null): Promise<Tenant> {
  const p = parseInput(z.object({ slug, name: z.string().trim().min(1).max(200) }), input, "tenant");
  return db.transaction(async (c) => {
    const [t] = await insertTenant.run(p, c);
    const tenant = t as Tenant;
    // The audit table is under RLS even for its owner: act as the new tenant for its first event.
    await setLocalTenant(c, tenant.tenant_id);
    const ctx = requestContext({ tenantId: tenant.tenant_id, actorId, correlationId: crypto.randomUUID() });
    await recordEvent(c, db, ctx, "tenant_created", { details: { slug: tenant.slug } });
    return tenant;
  });
}

export async function tenantBySlugOrThrow(db: Db, s: string): Promise<Tenant> {
  const p = parseInput(slug, s, "slug");
  const [t] = await db.transaction((c) => tenantBySlug.run({ slug: p }, c), { readOnly: true });
  if (!t) throw new NotFoundError(`tenant "${p}" does not exist`);
  return t;
}

export async function deactivateTenant(db: Db, tenantId: string, actorId: string | null = null): Promise<Tenant> {
  const id = parseInput(z.uuid(), tenantId, "tenantId");
  return db.transaction(async (c) => {
    const [t] = await deactivateQuery.run({ tenantId: id }, c);
    if (!t) throw new NotFoundError("tenant does not exist");
    await setLocalTenant(c, id);
    await recordEvent(c, db, requestContext({ tenantId: id, actorId, correlationId: crypto.randomUUID() }), "tenant_deactivated");
    return t;
  });
}
