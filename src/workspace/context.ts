/**
 * Request context and the wrapper every workspace service call runs in.
 *
 * A call takes an immutable context: the organisation (the tenant), the acting user (NULL for the system or
 * an organisation-level job, which may make no organisation-wide change: those need a member holding the
 * permission) and, for the audit trail, the request's session, IP address and user agent.
 * It runs inside `withTenant({ tenantId: organizationId, userId })`, so the `app` role's grants and the
 * row-level security policies of migrations/*_workspace_schema.sql decide what it can see and change.
 *
 * Changes write their audit row in the SAME transaction (a failed change leaves none); when a call fails,
 * a `status = failure` row naming the operation and error code is written in a SEPARATE transaction, since
 * the failed one rolled back.
 */
import type pg from "pg";
import { z } from "zod";
import { ForbiddenError, NotFoundError } from "../db/errors";
import { defineDomain, platformDomain } from "../db/operation";
import { many } from "../db/rows";
import { setLocalTenant } from "../db/tx";
import { parseInput } from "../db/validate";
import { sql } from "./sql";

const contextSchema = z.object({
  organizationId: z.uuid(),
  userId: z.uuid().nullable(),
  sessionId: z.uuid().optional(),
  ipAddress: z.union([z.ipv4(), z.ipv6()]).optional(),
  userAgent: z.string().max(1024).optional(),
});
/** The open vocabularies' format (memory_type, entity_type, document_type, ...), as the migration CHECKs it. */
export const word = z.string().regex(/^[a-z][a-z0-9_]{0,49}$/, "must be a lower-case word (letters, digits, _), at most 50 chars");

export type WorkspaceContext = Readonly<z.output<typeof contextSchema>>;

export function workspaceContext(input: z.input<typeof contextSchema>): WorkspaceContext {
  return Object.freeze(parseInput(contextSchema, input, "workspace context"));
}

/**
 * Why a change found no row: the row is there but guarded by the permission policies (ForbiddenError), or
 * it is not there at all (NotFoundError). Runs only on that failure path.
 */
export async function refusal(exists: Promise<unknown>, reason: string, notFound: string): Promise<never> {
  throw (await exists) != null ? new ForbiddenError(reason) : new NotFoundError(notFound);
}

/** The acting user; operations declared with `context: "user"` are admitted only with one. */
export function actingUser(ctx: WorkspaceContext): string {
  if (!ctx.userId) throw new ForbiddenError("this operation acts on a user's private data: the context needs a userId");
  return ctx.userId;
}

export interface AuditEntry {
  action: string;
  resourceType?: string;
  resourceId?: string | null;
  oldValue?: Record<string, unknown> | null;
  newValue?: Record<string, unknown> | null;
  metadata?: Record<string, unknown>;
}

const json = (v: Record<string, unknown> | null | undefined) => (v == null ? null : JSON.stringify(v));

/** Append an audit row inside the caller's (tenant) transaction. Never put secrets or tokens in it. */
export async function recordAudit(c: pg.ClientBase, ctx: WorkspaceContext, e: AuditEntry, failure?: string) {
  await many(
    sql.audit.insertAuditLog,
    {
      organizationId: ctx.organizationId,
      userId: ctx.userId,
      action: e.action,
      resourceType: e.resourceType,
      resourceId: e.resourceId,
      ipAddress: ctx.ipAddress,
      userAgent: ctx.userAgent,
      sessionId: ctx.sessionId,
      oldValue: json(e.oldValue),
      newValue: json(e.newValue),
      status: failure ? "failure" : "success",
      errorMessage: failure,
      metadata: json(e.metadata ?? {}),
    },
    c,
  );
}

/**
 * An audit row written by a platform operation (owner connection) into one organisation's trail: audit_logs
 * is under FORCEd row-level security, so the row is written as that organisation.
 */
export async function recordPlatformAudit(c: pg.ClientBase, organizationId: string, userId: string | null, e: AuditEntry) {
  await setLocalTenant(c, organizationId);
  await recordAudit(c, workspaceContext({ organizationId, userId }), e);
}

/**
 * Workspace operations run as `app` for the context's organisation and user. A failure (rejected input
 * included) writes a `status = failure` row, action `<resource>.failed`, naming the operation and error code,
 * in a separate transaction.
 */
export const operation = defineDomain<WorkspaceContext>({
  name: "workspace",
  // A declared permission is checked by workspace.require_permission() in the message that opens the
  // transaction (no extra round trip); the same permission guards the tables for SQL as `app` (RLS).
  transaction: (db, ctx, fn, opts, d) =>
    db.tenant({ tenantId: ctx.organizationId, userId: ctx.userId ?? undefined }, fn, {
      ...opts,
      check: d?.permission ? `workspace.require_permission('${d.permission}')` : undefined,
    }),
  admit(ctx, d) {
    if (d.permission && !ctx.userId) throw new ForbiddenError(`this operation needs an acting user holding ${d.permission}`);
    if (d.context === "user") actingUser(ctx);
  },
  recordFailure: (c, _db, ctx, details) =>
    recordAudit(c, ctx, { action: `${details.operation.split(".")[1]}.failed`, metadata: details }, `${details.operation}: ${details.code}`),
});

/** Platform operations (no organisation yet: creating one, resolving or refreshing a session token, purging sessions). */
export const platformOperation = platformDomain("workspace");
