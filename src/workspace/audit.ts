/** Reading the workspace audit trail (rows are written by ./context.ts recordAudit in each change's transaction). */
import { many } from "../db/rows";
import { pagedTimeRange } from "../db/validate";
import { operation } from "./context";
import type { IAuditForOrganizationResult } from "./queries/audit.queries";
import { sql } from "./sql";

export type AuditRow = IAuditForOrganizationResult;

/** The organisation's audit rows in [from, to), newest first (partition-pruned). */
export const auditLog = operation({
  name: "workspace.audit.list",
  input: pagedTimeRange,
  kind: "read",
  context: "tenant",
  reveals: "tenant",
  audit: "none",
  run: (p, { c, ctx }): Promise<AuditRow[]> => many(sql.audit.auditForOrganization, { organizationId: ctx.organizationId, ...p }, c),
});
