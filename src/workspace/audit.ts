/** Reading the workspace audit trail (rows are written by ./context.ts recordAudit in each change's transaction). */
import type { Db } from "../db/connect";
import { pagedTimeRange } from "../db/validate";
import { runParsed, type WorkspaceContext } from "./context";
import { auditForOrganization, type IAuditForOrganizationResult } from "./queries/audit.queries";

export type AuditRow = IAuditForOrganizationResult;

/** The organisation's audit rows in [from, to), newest first (partition-pruned). */
export async function auditLogOf(db: Db, ctx: WorkspaceContext, range: { from: Date; to: Date; limit?: number }): Promise<AuditRow[]> {
  return runParsed(db, ctx, "audit.list", pagedTimeRange, range, (p, c) => auditForOrganization.run({ organizationId: ctx.organizationId, ...p }, c), { readOnly: true });
}
