/* The workspace audit trail (workspace.audit_logs): append-only, monthly partitions, RLS per organisation. */

/* @name InsertAuditLog */
-- No RETURNING: reading the trail needs audit:read (RLS), writing it does not.
INSERT INTO workspace.audit_logs
  (organization_id, user_id, action, resource_type, resource_id, ip_address, user_agent, session_id, old_value, new_value,
   status, error_message, metadata)
VALUES
  (:organizationId!, :userId, :action!, :resourceType, :resourceId, :ipAddress::inet, :userAgent, :sessionId,
   :oldValue::jsonb, :newValue::jsonb, :status!, :errorMessage, coalesce(:metadata::jsonb, '{}'::jsonb));

/* @name AuditForOrganization */
-- One organisation's events in [from, to), newest first (partition pruning on "timestamp").
SELECT * FROM workspace.audit_logs
 WHERE organization_id = :organizationId! AND "timestamp" >= :from! AND "timestamp" < :to!
 ORDER BY "timestamp" DESC, id DESC
 LIMIT :limit!;
