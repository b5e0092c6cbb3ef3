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
