/* Immutable audit trail (wills.audit_logs). Range filters on created_at let the planner prune to the
   matching monthly partitions. */

/* @name InsertAuditLog */
INSERT INTO wills.audit_logs
  (action, actor_id, actor_type, data_subject_id, resource_type, resource_id, correlation_id, ip_address, user_agent, details)
VALUES
  (:action!, :actorId, :actorType!, :dataSubjectId, :resourceType!, :resourceId, :correlationId, :ipAddress::inet, :userAgent, :details!)
RETURNING id, created_at;

/* @name AuditBySubject */
SELECT * FROM wills.audit_logs
 WHERE data_subject_id = :dataSubjectId! AND created_at >= :from! AND created_at < :to!
 ORDER BY created_at, id
 LIMIT :limit!;

/* @name AuditByResource */
SELECT * FROM wills.audit_logs
 WHERE resource_type = :resourceType! AND resource_id = :resourceId! AND created_at >= :from! AND created_at < :to!
 ORDER BY created_at, id
 LIMIT :limit!;
