/** The wills audit trail: recording an event on its own, and reading the rows about a subject or a resource. */
import { z } from "zod";
import { many } from "../db/rows";
import { jsonRecord, pagedTimeRange } from "../db/validate";
import { operation, recordAudit } from "./context";
import type { IAuditBySubjectResult } from "./queries/audit.queries";
import { sql } from "./sql";

/** Record an event on its own (for events that are not part of a data change, e.g. a document viewed). */
export const recordAuditEvent = operation({
  name: "wills.audit.record",
  input: z.object({
    action: z.string().regex(/^[a-z][a-z_]*\.[a-z][a-z_]*$/, "must be <resource>.<verb> in snake_case"),
    resourceType: z.string().regex(/^[a-z][a-z_]{0,63}$/, "must be snake_case"),
    resourceId: z.uuid().nullable().optional(),
    dataSubjectId: z.uuid().nullable().optional(),
    details: jsonRecord.optional(),
  }),
  kind: "write",
  affects: "tenant",
  context: "actor",
  reveals: "nothing",
  audit: "change",
  run: (p, { c, ctx }) => recordAudit(c, ctx, p),
});

const range = pagedTimeRange;

/** Audit rows about one data subject in [from, to). Pruned to the partitions of that range. */
export const auditForSubject = operation({
  name: "wills.audit.by_subject",
  input: range.and(z.object({ dataSubjectId: z.uuid() })),
  kind: "read",
  context: "actor",
  reveals: "personal",
  audit: "access",
  run: (p, { c }): Promise<IAuditBySubjectResult[]> => many(sql.audit.auditBySubject, p, c),
  accessed: (p) => ({ subject: p.dataSubjectId }),
});

/** Audit rows about one resource (e.g. a clause version) in [from, to). */
export const auditForResource = operation({
  name: "wills.audit.by_resource",
  input: range.and(z.object({ resourceType: z.string().min(1).max(64), resourceId: z.uuid() })),
  kind: "read",
  context: "actor",
  reveals: "personal",
  audit: "access",
  run: (p, { c }) => many(sql.audit.auditByResource, p, c),
  accessed: (p) => ({ details: { resource_type: p.resourceType, resource_id: p.resourceId } }),
});
