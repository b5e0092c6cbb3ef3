/**
 * The wills audit trail: every consent and clause change writes its row in the SAME transaction as the
 * change (so a failed change leaves no audit row and a committed one always has its row). Rows are
 * immutable: wills.audit_logs is append-only for every role and `app` holds only SELECT and INSERT.
 */
import type pg from "pg";
import { z } from "zod";
import type { Db } from "../db/connect";
import { jsonRecord, pagedTimeRange, parseInput } from "../db/validate";
import { auditByResource, auditBySubject, type IAuditBySubjectResult, insertAuditLog } from "./queries/audit.queries";

const contextSchema = z.object({
  actorId: z.uuid().nullable(),
  actorType: z.enum(["data_subject", "staff", "system"]),
  correlationId: z.uuid(),
  ipAddress: z.union([z.ipv4(), z.ipv6()]).optional(),
  userAgent: z.string().max(1024).optional(),
});

/** Who is acting, for the audit trail. Immutable once made. */
export type WillsContext = Readonly<z.output<typeof contextSchema>>;

export function willsContext(input: z.input<typeof contextSchema>): WillsContext {
  return Object.freeze(parseInput(contextSchema, input, "context"));
}

export interface AuditEvent {
  action: string;
  resourceType: string;
  resourceId?: string | null;
  dataSubjectId?: string | null;
  details?: Record<string, unknown>;
}

/** Append one audit row inside the caller's transaction. */
export async function recordAudit(client: pg.ClientBase, ctx: WillsContext, ev: AuditEvent) {
  const [row] = await insertAuditLog.run(
    {
      action: ev.action,
      actorId: ctx.actorId,
      actorType: ctx.actorType,
      dataSubjectId: ev.dataSubjectId ?? null,
      resourceType: ev.resourceType,
      resourceId: ev.resourceId ?? null,
      correlationId: ctx.correlationId,
      ipAddress: ctx.ipAddress ?? null,
      userAgent: ctx.userAgent ?? null,
      details: JSON.stringify(ev.details ?? {}),
    },
    client,
  );
  return row;
}

const eventSchema = z.object({
  action: z.string().regex(/^[a-z][a-z_]*\.[a-z][a-z_]*$/, "must be <resource>.<verb> in snake_case"),
  resourceType: z.string().regex(/^[a-z][a-z_]{0,63}$/, "must be snake_case"),
  resourceId: z.uuid().nullable().optional(),
  dataSubjectId: z.uuid().nullable().optional(),
  details: jsonRecord.optional(),
});

/** Record an event on its own (for events that are not part of a data change, e.g. a document viewed). */
export async function recordAuditEvent(db: Db, ctx: WillsContext, ev: AuditEvent) {
  const e = parseInput(eventSchema, ev, "audit event");
  return db.transaction((c) => recordAudit(c, ctx, e), { asApp: true });
}

const range = pagedTimeRange;

/** Audit rows about one data subject in [from, to). Pruned to the partitions of that range. */
export async function auditForSubject(db: Db, dataSubjectId: string, r: { from: Date; to: Date; limit?: number }): Promise<IAuditBySubjectResult[]> {
  const p = parseInput(range.and(z.object({ dataSubjectId: z.uuid() })), { ...r, dataSubjectId }, "audit query");
  return db.transaction((c) => auditBySubject.run(p, c), { asApp: true, readOnly: true });
}

/** Audit rows about one resource (e.g. a clause version) in [from, to). */
export async function auditForResource(db: Db, resourceType: string, resourceId: string, r: { from: Date; to: Date; limit?: number }) {
  const p = parseInput(range.and(z.object({ resourceType: z.string().min(1).max(64), resourceId: z.uuid() })), { ...r, resourceType, resourceId }, "audit query");
  return db.transaction((c) => auditByResource.run(p, c), { asApp: true, readOnly: true });
}
