/* Versioned entity profiles (screening.entity_profiles). */

/* @name LatestProfile */
SELECT * FROM screening.entity_profiles WHERE tenant_id = :tenantId! AND entity_id = :entityId! ORDER BY version DESC LIMIT 1;

/* @name ProfileByVersion */
SELECT * FROM screening.entity_profiles WHERE tenant_id = :tenantId! AND entity_id = :entityId! AND version = :version!;

/* @name ProfileHistory */
SELECT profile_id, version, trigger_type, trigger_id, risk_score, connection_count, delta, created_at
  FROM screening.entity_profiles WHERE tenant_id = :tenantId! AND entity_id = :entityId! ORDER BY version DESC LIMIT :limit!;

/* @name InsertProfile */
INSERT INTO screening.entity_profiles
  (tenant_id, entity_id, version, previous_version, trigger_type, trigger_id, findings, risk_score, connections, connection_count,
   data_sources_used, stale_data_used, delta, evolution_signals)
VALUES
  (:tenantId!, :entityId!, :version!, :previousVersion, :triggerType!, :triggerId, :findings!, :riskScore!, :connections!, :connectionCount!,
   :dataSourcesUsed!, :staleDataUsed!, :delta, :evolutionSignals!)
RETURNING *;
