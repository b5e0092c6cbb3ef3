-- Migration: screening records over their whole life (issue 19): entity updates, cache retention, tenant renames.
--
-- What:
--   * screening.entity_for_update(entity_id) and screening.set_entity_identifiers(...): how a tenant changes
--     the identifiers of an entity it uses (the service's updateEntity). `app` still has no UPDATE on
--     entities and no UPDATE or DELETE on entity_identifiers (a tenant must not rewrite or drop shared
--     identity by hand); these two SECURITY DEFINER functions do exactly that change, and only for an entity
--     the current live tenant uses and has not deleted. The first locks the entity row (FOR NO KEY UPDATE,
--     so concurrent updates of a shared entity queue instead of losing one another's change, and an erasure
--     waits) and returns its ciphertext for the service to decrypt and merge; the second replaces the blind
--     indexes of the kinds set or removed and the ciphertext together. An identifier another entity holds
--     fails on PRIMARY KEY (identifier_kind, blind_index), as in createEntity.
--   * screening.tenants: `app` may UPDATE the name, of its own live tenant only (policy own_tenant, which
--     already limits every command of `app` to that row). The slug stays the platform's (stable identity),
--     is_active too (deactivation and reactivation).
--   * screening.audit_events: event types tenant_updated (renames, reactivation) and cache_purged (the
--     retention purge's per-tenant counts) join audit_events_event_type_check.
--   * idx_cache_stale_until: the retention purge deletes cache rows whose stale_until is older than its
--     cutoff; without it that is a sequential scan of the whole cache per tenant.
-- Safety: functions and a column grant take no table lock. The CHECK swap takes ACCESS EXCLUSIVE on
--   audit_events for an instant; the new CHECK is added NOT VALID and left so: it only widens the old,
--   validated one, so every existing row satisfies it, and validating would scan every partition under that
--   lock for nothing (new rows are checked either way). The index build holds SHARE on cached_data_sources
--   (reads go on, writes wait) while it runs: on a large cache, build it CONCURRENTLY first (docs/dba.md) and
--   this CREATE INDEX becomes the only step to skip.
-- Down: drops the functions, the index and the grant, and puts the old event-type list back NOT VALID:
--   audit rows of the new types may exist and the trail is append-only, so it cannot be validated.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Entities: changing identifiers ---------------------------------------------------------------------------
CREATE FUNCTION screening.entity_for_update(p_entity_id uuid)
  RETURNS TABLE (entity_id uuid, entity_type screening.entity_type, canonical_identifiers bytea, created_at timestamptz, updated_at timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, screening
  AS $$
DECLARE
  t uuid := screening.require_live_tenant();
BEGIN
  -- Explicit tenant filter: RLS does not bind a superuser owner.
  RETURN QUERY
    SELECT e.entity_id, e.entity_type, e.canonical_identifiers, e.created_at, e.updated_at
      FROM screening.entities e
     WHERE e.entity_id = p_entity_id
       AND EXISTS (SELECT FROM screening.tenant_entities l WHERE l.tenant_id = t AND l.entity_id = e.entity_id AND l.deleted_at IS NULL)
       FOR NO KEY UPDATE OF e;
END $$;
COMMENT ON FUNCTION screening.entity_for_update(uuid) IS 'The entity row, locked until the transaction ends, when the current live tenant uses it and has not deleted it; no row otherwise. The first step of updateEntity.';
REVOKE EXECUTE ON FUNCTION screening.entity_for_update(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION screening.entity_for_update(uuid) TO app;

CREATE FUNCTION screening.set_entity_identifiers(p_entity_id uuid, p_canonical_identifiers bytea, p_kinds text[], p_blind_indexes bytea[], p_removed_kinds text[])
  RETURNS timestamptz
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, screening
  AS $$
DECLARE
  t uuid := screening.require_live_tenant();
  changed timestamptz;
BEGIN
  IF NOT EXISTS (SELECT FROM screening.tenant_entities l WHERE l.tenant_id = t AND l.entity_id = p_entity_id AND l.deleted_at IS NULL) THEN
    RETURN NULL;
  END IF;
  DELETE FROM screening.entity_identifiers i
   WHERE i.entity_id = p_entity_id AND i.identifier_kind = ANY (coalesce(p_kinds, '{}') || coalesce(p_removed_kinds, '{}'));
  INSERT INTO screening.entity_identifiers (identifier_kind, blind_index, entity_id)
  SELECT x.k, x.b, p_entity_id FROM unnest(p_kinds, p_blind_indexes) AS x (k, b);
  UPDATE screening.entities e SET canonical_identifiers = p_canonical_identifiers WHERE e.entity_id = p_entity_id
  RETURNING e.updated_at INTO changed;
  RETURN changed;
END $$;
COMMENT ON FUNCTION screening.set_entity_identifiers(uuid, bytea, text[], bytea[], text[]) IS 'For an entity the current live tenant uses and has not deleted: replace the blind indexes of p_kinds (new ones from p_blind_indexes) and drop those of p_removed_kinds, and store the new identifier ciphertext. Returns the new updated_at, NULL when the tenant may not change the entity.';
REVOKE EXECUTE ON FUNCTION screening.set_entity_identifiers(uuid, bytea, text[], bytea[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION screening.set_entity_identifiers(uuid, bytea, text[], bytea[], text[]) TO app;

-- Tenants: a tenant renames itself ---------------------------------------------------------------------------
GRANT UPDATE (name) ON screening.tenants TO app;

-- Audit: the new event types -----------------------------------------------------------------------------------
ALTER TABLE screening.audit_events DROP CONSTRAINT audit_events_event_type_check;
ALTER TABLE screening.audit_events ADD CONSTRAINT audit_events_event_type_check CHECK (event_type IN (
    'screening_initiated', 'screening_completed', 'data_accessed', 'entity_created', 'entity_updated',
    'entity_deleted', 'entity_erased', 'profile_created', 'relation_created', 'cache_stored', 'cache_purged',
    'tenant_created', 'tenant_updated', 'tenant_deactivated', 'error')) NOT VALID;
COMMENT ON CONSTRAINT audit_events_event_type_check ON screening.audit_events IS 'NOT VALID on purpose: it widens a validated CHECK (migration 20261130010000000), so old rows satisfy it; new rows are checked.';

-- Cache: the retention purge's index -----------------------------------------------------------------------------
-- See Safety above: a SHARE lock on the cache while the index builds; the migration runs in one transaction.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX idx_cache_stale_until ON screening.cached_data_sources (stale_until);
COMMENT ON INDEX screening.idx_cache_stale_until IS 'The retention purge: rows whose stale_until is older than its cutoff.';

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Down section: drops the index this migration created, inside its transaction.
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX screening.idx_cache_stale_until;
ALTER TABLE screening.audit_events DROP CONSTRAINT audit_events_event_type_check;
ALTER TABLE screening.audit_events ADD CONSTRAINT audit_events_event_type_check CHECK (event_type IN (
    'screening_initiated', 'screening_completed', 'data_accessed', 'entity_created', 'entity_updated',
    'entity_deleted', 'entity_erased', 'profile_created', 'relation_created', 'cache_stored', 'tenant_created',
    'tenant_deactivated', 'error')) NOT VALID;
REVOKE UPDATE (name) ON screening.tenants FROM app;
DROP FUNCTION screening.set_entity_identifiers(uuid, bytea, text[], bytea[], text[]);
DROP FUNCTION screening.entity_for_update(uuid);
