/** Reading and writing the screening audit trail: a tenant's events in a time range (pruned to those partitions). */
import { z } from "zod";
import { many } from "../db/rows";
import { jsonRecord, pagedTimeRange } from "../db/validate";
import { keyring, operation, recordEvent } from "./context";
import { sql } from "./sql";

/** The tenant's audit events in [from, to), oldest first, with their sensitive details decrypted. */
export const listAuditEvents = operation({
  name: "screening.audit.list",
  input: pagedTimeRange,
  kind: "read",
  context: "tenant",
  reveals: "personal",
  audit: "access",
  async run(p, { c, ctx, db }) {
    const k = keyring(db.config);
    return (await many(sql.audit.auditEventsInRange, { tenantId: ctx.tenantId, ...p }, c)).map(({ sensitive_details, ...r }) => ({
      ...r,
      sensitive: sensitive_details
        ? (JSON.parse(k.decryptString(sensitive_details, `screening.audit_events:${r.correlation_id}`)) as Record<string, unknown>)
        : null,
    }));
  },
  accessed: (p, rows) => ({ details: { from: p.from.toISOString(), to: p.to.toISOString(), events: rows.length } }),
});

/** Record an event that is not part of a data change (a screening started or finished, data viewed). */
export const recordAuditEvent = operation({
  name: "screening.audit.record",
  input: z.object({
    eventType: z.enum(["screening_initiated", "screening_completed", "data_accessed"]),
    entityId: z.uuid().nullable().default(null),
    details: jsonRecord.default({}),
    sensitive: jsonRecord.optional(),
  }),
  kind: "write",
  affects: "tenant",
  context: "tenant",
  reveals: "nothing",
  audit: "change",
  run: (p, { c, ctx, db }) => recordEvent(c, db, ctx, p.eventType, p),
});
