/* Cached provider responses (screening.cached_data_sources), under row-level security: a tenant sees the
   shared paid_external rows and its own customer_provided rows. Freshness is computed at read time. */

/* @name InsertCacheEntry */
INSERT INTO screening.cached_data_sources
  (entity_id, provider_id, check_type, data_origin, customer_id, acquired_at, fresh_until, stale_until,
   raw_response, normalized_data, cost_incurred, cost_currency, freshness_status)
VALUES
  (:entityId!, :providerId!, :checkType!, :dataOrigin!, :customerId, :acquiredAt!, :freshUntil!, :staleUntil!,
   :rawResponse!, :normalizedData!, :costIncurred!, :costCurrency!,
   CASE WHEN now() < :freshUntil! THEN 'fresh' WHEN now() < :staleUntil! THEN 'stale' ELSE 'expired' END)
RETURNING cache_id, acquired_at, fresh_until, stale_until, freshness_status;

/* @name CacheForCheck */
-- Visible entries for (entity, check type), newest first, with freshness as of now (idx_cache_entity_check).
SELECT cache_id, entity_id, provider_id, check_type, data_origin, customer_id, acquired_at, fresh_until, stale_until,
       raw_response, normalized_data, cost_incurred, cost_currency,
       (CASE WHEN now() < fresh_until THEN 'fresh' WHEN now() < stale_until THEN 'stale' ELSE 'expired' END) AS "freshness!"
  FROM screening.cached_data_sources
 WHERE entity_id = :entityId! AND check_type = :checkType!
 ORDER BY acquired_at DESC, cache_id DESC;

/* @name BestCacheEntry */
-- The entry for (entity, check type) worth using now: a fresh one before a stale one, the newest acquired first;
-- never an expired one (idx_cache_entity_check finds the few rows of one entity and check; they are sorted).
SELECT cache_id, entity_id, provider_id, check_type, data_origin, customer_id, acquired_at, fresh_until, stale_until,
       raw_response, normalized_data, cost_incurred, cost_currency,
       (CASE WHEN now() < fresh_until THEN 'fresh' ELSE 'stale' END) AS "freshness!"
  FROM screening.cached_data_sources
 WHERE entity_id = :entityId! AND check_type = :checkType! AND now() < stale_until
 ORDER BY now() < fresh_until DESC, acquired_at DESC, cache_id DESC
 LIMIT 1;

/* @name SweepFreshness */
-- Bring the stored freshness_status of visible rows up to date; returns how many changed.
-- explain: seq-scan-ok the periodic sweep compares every row's status with its timestamps.
WITH changed AS (
  UPDATE screening.cached_data_sources
     SET freshness_status = CASE WHEN now() < fresh_until THEN 'fresh' WHEN now() < stale_until THEN 'stale' ELSE 'expired' END
   WHERE freshness_status IS DISTINCT FROM
         (CASE WHEN now() < fresh_until THEN 'fresh' WHEN now() < stale_until THEN 'stale' ELSE 'expired' END)
  RETURNING freshness_status
)
SELECT freshness_status AS "freshness_status!", count(*) AS "changed!" FROM changed GROUP BY freshness_status ORDER BY 1;

/* @name CacheNotUnderKey */
-- Visible cache rows whose raw_response was encrypted with another key than activeKeyId.
-- explain: seq-scan-ok key rotation is a batch job that must look at every row.
SELECT cache_id, entity_id, check_type, raw_response FROM screening.cached_data_sources
 WHERE convert_from(substring(raw_response FROM 3 FOR get_byte(raw_response, 1)), 'SQL_ASCII') <> :activeKeyId!
 ORDER BY cache_id
 LIMIT :limit!;

/* @name SetCacheCiphertext */
UPDATE screening.cached_data_sources SET raw_response = :ciphertext! WHERE cache_id = :cacheId!;

/* @name PurgeTenantCache */
-- Retention purge, owner connection with app.tenant_id set to the tenant's (audit_events and tenant_entities are
-- FORCEd; the explicit tenant filters also hold for a superuser, whom RLS does not bind): delete the tenant's
-- customer_provided rows whose stale_until is older than now() minus olderThanDays days, count the shared
-- paid_external rows of entities it uses (deleted or not) that PurgeSharedCache deletes next, and write the
-- tenant's cache_purged event with both counts when either is not zero (idx_cache_stale_until).
WITH cutoff AS (
  SELECT now() - make_interval(days => :olderThanDays!::int) AS at
), gone AS (
  DELETE FROM screening.cached_data_sources c USING cutoff
   WHERE c.data_origin = 'customer_provided' AND c.customer_id = :tenantId! AND c.stale_until < cutoff.at
  RETURNING c.cache_id
), counts AS (
  SELECT (SELECT count(*) FROM gone) AS customer_rows,
         (SELECT count(*) FROM screening.cached_data_sources c, cutoff
           WHERE c.data_origin = 'paid_external' AND c.stale_until < cutoff.at
             AND EXISTS (SELECT FROM screening.tenant_entities l WHERE l.tenant_id = :tenantId! AND l.entity_id = c.entity_id)) AS shared_rows
), recorded AS (
  INSERT INTO screening.audit_events (tenant_id, actor_id, event_type, correlation_id, details)
  SELECT :tenantId!, :actorId, 'cache_purged', :correlationId!,
         jsonb_build_object('older_than_days', :olderThanDays!::int, 'customer_rows', customer_rows, 'shared_rows', shared_rows)
    FROM counts
   WHERE customer_rows + shared_rows > 0
  RETURNING event_id
)
SELECT customer_rows AS "customer_rows!", shared_rows AS "shared_rows!" FROM counts;

/* @name PurgeSharedCache */
-- Retention purge, owner connection, after every tenant's PurgeTenantCache: delete the shared paid_external rows
-- whose stale_until is older than now() minus olderThanDays days; returns that cutoff and how many went.
WITH cutoff AS (
  SELECT now() - make_interval(days => :olderThanDays!::int) AS at
), gone AS (
  DELETE FROM screening.cached_data_sources c USING cutoff
   WHERE c.data_origin = 'paid_external' AND c.stale_until < cutoff.at
  RETURNING c.cache_id
)
SELECT (SELECT at FROM cutoff) AS "cutoff!", (SELECT count(*) FROM gone) AS "purged!";
