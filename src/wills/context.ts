/**
 * The wills domain's context and how its operations run. Wills has no tenants: every call runs as `app`
 * (its grants apply) and names who is acting (a data subject, staff or the system) for the audit trail.
 * Changes write their wills.audit_logs row in the SAME transaction (a failed change leaves none); a failed
 * call leaves a `<resource>.failed` row written in a separate transaction; a read of a data subject's
 * personal information leaves a `<resource>.accessed` row. Rows are immutable: wills.audit_logs is
 * append-only for every role and `app` holds only SELECT and INSERT on it.
 */
import type pg from "pg";
import { z } from "zod";
import { defineDomain, platformDomain } from "../db/operation";
import { one } from "../db/rows";
import { parseInput } from "../db/validate";
import { sql } from "./sql";

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
export function recordAudit(c: pg.ClientBase, ctx: WillsContext, ev: AuditEvent) {
  return one(sql.audit.insertAuditLog, { ...ctx, ...ev, details: JSON.stringify(ev.details ?? {}) }, c);
}

/** `wills.consent.grant` -> `consent`: the resource part of an operation name, as audit rows name it. */
const resourceOf = (operation: string) => operation.split(".")[1] as string;

export const operation = defineDomain<WillsContext>({
  name: "wills",
  transaction: (db, _ctx, fn, opts) => db.transaction(fn, { ...opts, asApp: true }),
  recordFailure: (c, _db, ctx, details) =>
    recordAudit(c, ctx, { action: `${resourceOf(details.operation)}.failed`, resourceType: resourceOf(details.operation), details }),
  recordAccess: (c, _db, ctx, operation, rec) =>
    recordAudit(c, ctx, {
      action: `${resourceOf(operation)}.accessed`,
      resourceType: resourceOf(operation),
      dataSubjectId: rec.subject,
      details: { operation, ...rec.details },
    }),
});

/** Platform operations of the wills domain (publishing a policy version): the owner connection. */
export const platformOperation = platformDomain("wills");
