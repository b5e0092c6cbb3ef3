/** Reading the screening audit trail: a tenant's events in a time range (pruned to those partitions). */
import { z } from "zod";
import type { Db } from "../db/connect";
import { jsonRecord, pagedTimeRange } from "../db/validate";
import { keyring, type RequestContext, recordEvent, runParsed } from "./context";
import { auditEventsInRange } from "./queries/audit.queries";

const rangeSchema = pagedTimeRange;

export function listAuditEvents(db: Db, ctx: RequestContext, range: z.input<typeof rangeSchema>) {
  return runParsed(db, ctx, "audit.list", rangeSchema, range, async (p, c) => {
    const rows = await auditEventsInRange.run({ tenantId: ctx.tenantId, ...p }, c);
    const k = keyring(db.config);
    return rows.map(({ sensitive_details, ...r }) => ({
      ...r,
      sensitive: sensitive_details ? JSON.parse(k.decryptString(sensitive_details, `screening.audit_events:${r.correlation_id}`)) : null,
    }));
  }, { readOnly: true });
}

const eventSchema = z.object({
  eventType: z.enum(["screening_initiated", "screening_completed", "data_accessed"]),
  entityId: z.uuid().nullable().default(null),
  details: jsonRecord.default({}),
  sensitive: jsonRecord.optional(),
});

/** Record an event that is not part of a data change (a screening started or finished, data viewed). */
export function recordAuditEvent(db: Db, ctx: RequestContext, input: z.input<typeof eventSchema>) {
  return runParsed(db, ctx, "audit.record", eventSchema, input, (p, c) =>
    recordEvent(c, db, ctx, p.eventType, { entityId: p.entityId, details: p.details, sensitive: p.sensitive }),
  );
}
