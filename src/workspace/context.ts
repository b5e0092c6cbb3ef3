/**
 * Request context and the wrapper every workspace service call runs in.
 *
 * A call takes an immutable context: the organisation (the tenant), the acting user (NULL for the system or
 * an organisation-level job) and, for the audit trail, the request's session, IP address and user agent.
 * It runs inside `withTenant({ tenantId: organizationId, userId })`, so the `app` role's grants and the
 * row-level security policies of migrations/*_workspace_schema.sql decide what it can see and change.
 *
 * Changes write their audit row in the SAME transaction (a failed change leaves none); when a call fails,
 * a `status = failure` row naming the operation and error code is written in a SEPARATE transaction, since
 * the failed one rolled back.
 */
import type pg from "pg";
import { z } from "zod";
import type { Db } from "../db/connect";
import { AppError, ForbiddenError } from "../db/errors";
import type { TxOptions } from "../db/tx";
import { parseInput } from "../db/validate";
import { insertAuditLog } from "./queries/audit.queries";

const contextSchema = z.object({
  organizationId: z.uuid(),
  userId: z.uuid().nullable(),
  sessionId: z.uuid().optional(),
  ipAddress: z.union([z.ipv4(), z.ipv6()]).optional(),
  userAgent: z.string().max(1024).optional(),
});
export type WorkspaceContext = Readonly<z.output<typeof contextSchema>>;

export function workspaceContext(input: z.input<typeof contextSchema>): WorkspaceContext {
  return Object.freeze(parseInput(contextSchema, input, "workspace context"));
}

/** The acting user; operations on a user's private data need one. */
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
  await insertAuditLog.run(
    {
      organizationId: ctx.organizationId,
      userId: ctx.userId,
      action: e.action,
      resourceType: e.resourceType ?? null,
      resourceId: e.resourceId ?? null,
      ipAddress: ctx.ipAddress ?? null,
      userAgent: ctx.userAgent ?? null,
      sessionId: ctx.sessionId ?? null,
      oldValue: json(e.oldValue),
      newValue: json(e.newValue),
      status: failure ? "failure" : "success",
      errorMessage: failure ?? null,
      metadata: json(e.metadata ?? {}),
    },
    c,
  );
}

/** Run one operation as `app` for the context's organisation and user; audit a failure separately. */
export async function run<T>(db: Db, ctx: WorkspaceContext, operation: string, fn: (c: pg.PoolClient) => Promise<T>, opts?: TxOptions): Promise<T> {
  try {
    return await db.tenant({ tenantId: ctx.organizationId, userId: ctx.userId ?? undefined }, fn, opts);
  } catch (e) {
    await recordFailure(db, ctx, operation, e);
    throw e;
  }
}

/** Validate input inside the audited scope (rejected input is audited too), then run. */
export async function runParsed<S extends z.ZodType, T>(
  db: Db,
  ctx: WorkspaceContext,
  operation: string,
  schema: S,
  input: unknown,
  fn: (p: z.output<S>, c: pg.PoolClient) => Promise<T>,
  opts?: TxOptions,
): Promise<T> {
  let parsed: z.output<S>;
  try {
    parsed = parseInput(schema, input, operation);
  } catch (e) {
    await recordFailure(db, ctx, operation, e);
    throw e;
  }
  return run(db, ctx, operation, (c) => fn(parsed, c), opts);
}

/**
 * runParsed for an operation that takes one value: the value is validated as the named field, so a bad
 * one is reported as e.g. `userId: Invalid UUID` (fields ["userId"]) rather than under the operation's name.
 */
export async function runField<S extends z.ZodType, T>(
  db: Db,
  ctx: WorkspaceContext,
  operation: string,
  field: string,
  schema: S,
  value: unknown,
  fn: (v: z.output<S>, c: pg.PoolClient) => Promise<T>,
  opts?: TxOptions,
): Promise<T> {
  return runParsed(db, ctx, operation, z.object({ [field]: schema }), { [field]: value }, (p, c) => fn((p as Record<string, z.output<S>>)[field] as z.output<S>, c), opts);
}

async function recordFailure(db: Db, ctx: WorkspaceContext, operation: string, e: unknown) {
  const code = e instanceof AppError ? e.code : "internal";
  const metadata =
    e instanceof AppError
      ? { operation, code, sqlstate: e.sqlstate ?? null, constraint: e.constraint ?? null, fields: "fields" in e ? e.fields : null }
      : { operation, code };
  try {
    await db.tenant({ tenantId: ctx.organizationId, userId: ctx.userId ?? undefined }, (c) =>
      recordAudit(c, ctx, { action: `${operation.split(".")[0]}.failed`, metadata }, `${operation}: ${code}`),
    );
  } catch {
    // Recording the failure must never hide it; the caller rethrows the original error.
  }
}
