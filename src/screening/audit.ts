/** Reading the screening audit trail: a tenant's events in a time range (pruned to those partitions). */
import { z } from "zod";
import type { Db } from "../db/connect";
import { keyring, type RequestContext, runParsed } from "./context";
import { auditEventsInRange } from "./queries/audit.queries";

const rangeSchema = z
  .object({ from: z.date(), to: z.date(), limit: z.number().int().min(1).max(10_000).default(1000) })
  .refine((r) => r.from < r.to, { message: "from must be before to", path: ["to"] });

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
