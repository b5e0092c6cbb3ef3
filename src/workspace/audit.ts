/** Reading the workspace audit trail (rows are written by ./context.ts recordAudit in each change's transaction). */
import { many } from "../db/rows";
import { pagedTimeRange } from "../db/validate";
import { operation } from "./context";
import type { IAuditForOrganizationResult } from "./queries/audit.queries";
import { sql } from "./sql";

export type AuditRow = IAuditForOrganizationResult;

/** The organisation's audit rows in [from, to), newest first (partition-pruned). Needs audit:read (so does SQL as `app`). */
export const auditLog = operation({
  name: "workspace.audit.list",
  input: pagedTimeRange,
  kind: "read",
  permission: "audit:read",
  context: "user",
  reveals: "tenant",
  audit: "none",
  oneStatement: true,
  run: (p, { c, ctx }): Promise<AuditRow[]> => many(sql.audit.auditForOrganization, { organizationId: ctx.organizationId, ...p }, c),
});
