/* Append-only audit trail (screening.audit_events), RLS per tenant; ranges on created_at prune partitions. */

/* @name InsertAuditEvent */
INSERT INTO screening.audit_events (tenant_id, actor_id, event_type, correlation_id, entity_id, details, sensitive_details)
VALUES (:tenantId!, :actorId, :eventType!, :correlationId!, :entityId, :details!, :sensitiveDetails)
RETURNING event_id, created_at;

/* @name AuditEventsInRange */
SELECT event_id, created_at, tenant_id, actor_id, event_type, correlation_id, entity_id, details, sensitive_details
  FROM screening.audit_events
 WHERE tenant_id = :tenantId! AND created_at >= :from! AND created_at < :to!
 ORDER BY created_at, event_id
 LIMIT :limit!;

/* @name CostTotals */
-- What a tenant spent on provider data: the cost recorded on its cache_stored events, per currency.
SELECT details ->> 'currency' AS "currency!", sum((details ->> 'cost')::numeric) AS "total!", count(*) AS "acquisitions!"
  FROM screening.audit_events
 WHERE tenant_id = :tenantId! AND event_type = 'cache_stored' AND created_at >= :from! AND created_at < :to!
 GROUP BY 1 ORDER BY 1;
