-- Migration: screening confidentiality: what a tenant learned is that tenant's, live tenants only, default deny.
--
-- The sharing model (issue 14; docs/domains.md says the same for callers):
--   * Shared identity, for de-duplication (seed 001): screening.entities, their blind-indexed identifiers and
--     paid_external cache rows. One entity per identifier across the platform.
--   * What a tenant learned belongs to that tenant: profiles (findings, risk, delta), relations discovered in
--     its screenings, customer_provided cache rows. Profiles and relations gain tenant_id and sit under
--     forced row-level security, like the cache and the audit trail already did.
--   * screening.tenant_entities (new) records which tenants use an entity: the tenant that created it, and
--     every tenant that resolved it by an identifier it holds (the way a second customer starts screening a
--     shared entity). `app` sees an entity row, and the service decrypts its identifiers, only for a tenant
--     with a link (a soft-deleted link still shows it, for restore). A tenant links itself only to an entity
--     created in its own transaction, or through screening.resolve_identifier(), which needs the identifier's
--     blind index: `app` cannot INSERT an arbitrary link. Soft delete is per tenant: the link's deleted_at (the tenant stops using the entity;
--     identifiers stay, they are shared identity; restore clears it). entities.deleted_at moves there.
--   * Profile versions are gap-free per (entity, tenant), not per entity: a global sequence would tell one
--     customer how often others screened the same person, and give each tenant's history gaps.
--   * Live tenants only: screening.current_tenant() is the tenant of app.tenant_id only while it exists and is
--     active. A RESTRICTIVE policy `live_tenant` TO app on every screening table requires it, so SQL as `app`
--     for an unknown or deactivated tenant sees and writes nothing; screening.require_live_tenant() raises
--     TN001 and runs in the message that sets the tenant context (no extra round trip).
--   * Default deny: with no tenant set, `app` sees no row of any screening table (tenants and entities
--     included). The platform (the owner connection) keeps seeing everything that is not FORCEd.
--   * Shared paid_external cache rows are read by any live tenant (the seed's reuse of paid data; the service
--     returns them only for entities the tenant uses) but deleted by none: `app` deletes only its own
--     customer_provided rows (RESTRICTIVE policy own_rows_delete).
--   * Erasure is a platform operation: `app` loses DELETE on entities (and UPDATE of deleted_at);
--     screening.erase_entity() writes `entity_erased` into the trail of every tenant whose data goes.
-- Backfill (data-preserving): links, profiles and relations get their tenant from the audit trail
--   (entity_created/profile_created/relation_created/cache_stored/data_accessed events name tenant and
--   entity; profile events their version, relation events their target and type) and from customer_provided
--   cache rows. Profiles and relations no event attributes go to the inactive tenant `unattributed` (created
--   only if needed): kept, visible to no customer, for a DBA to reassign. Entities no tenant used stay in
--   shared identity with no link, until a tenant resolves them by an identifier.
-- Down: restores the previous schema; tenants' profile versions of one entity are renumbered in creation
--   order (the old unique key is per entity), entities.deleted_at is set where every link was deleted.
-- Safety: ACCESS EXCLUSIVE on the screening tables while it runs (policies, columns, backfill); the backfill
--   reads the audit trail once per tenant. Run it in a quiet window on large installations.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '600s';

-- Live tenant -----------------------------------------------------------------------------------------------
CREATE FUNCTION screening.current_tenant() RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, screening
  AS $$ SELECT t.tenant_id FROM screening.tenants t
         WHERE t.tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid AND t.is_active $$;
COMMENT ON FUNCTION screening.current_tenant() IS 'The tenant of app.tenant_id while it exists and is active, else NULL. Every screening policy for app goes through it.';
REVOKE EXECUTE ON FUNCTION screening.current_tenant() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION screening.current_tenant() TO app;

CREATE FUNCTION screening.require_live_tenant() RETURNS uuid
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, screening
  AS $$
DECLARE
  t uuid := screening.current_tenant();
BEGIN
  IF t IS NULL THEN
    RAISE EXCEPTION 'the tenant is unknown or deactivated' USING ERRCODE = 'TN001';
  END IF;
  RETURN t;
END $$;
COMMENT ON FUNCTION screening.require_live_tenant() IS 'Raises TN001 unless app.tenant_id names a live tenant; the service calls it in the message that opens each tenant transaction.';
REVOKE EXECUTE ON FUNCTION screening.require_live_tenant() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION screening.require_live_tenant() TO app;

-- tenants: app sees its own row only (the owner, the platform, sees all: not FORCEd).
ALTER TABLE screening.tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON screening.tenants TO app USING (tenant_id = (SELECT screening.current_tenant()));

-- tenant_entities -------------------------------------------------------------------------------------------
CREATE TABLE screening.tenant_entities (
  tenant_id  uuid NOT NULL REFERENCES screening.tenants (tenant_id) ON DELETE CASCADE,
  entity_id  uuid NOT NULL REFERENCES screening.entities (entity_id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz,
  CONSTRAINT tenant_entities_pkey PRIMARY KEY (tenant_id, entity_id)
);
COMMENT ON TABLE screening.tenant_entities IS 'Which tenants use a shared entity (created it, or resolved it by an identifier they hold). Only they see the entity and its decrypted identifiers.';
COMMENT ON COLUMN screening.tenant_entities.deleted_at IS 'Soft delete by this tenant: it stopped using the entity (hidden from its reads, graph and new links); restore clears it.';
CREATE INDEX tenant_entities_entity_id_idx ON screening.tenant_entities (entity_id);

-- profiles and relations: the owning tenant ------------------------------------------------------------------
-- The migration holds ACCESS EXCLUSIVE on the screening tables anyway (backfill, policies); the new column is empty.
-- squawk-ignore adding-foreign-key-constraint, constraint-missing-not-valid
ALTER TABLE screening.entity_profiles ADD COLUMN tenant_id uuid REFERENCES screening.tenants (tenant_id) ON DELETE CASCADE;
COMMENT ON COLUMN screening.entity_profiles.tenant_id IS 'The tenant whose screening produced this version; versions are gap-free per (entity, tenant).';
-- As above: a new, empty column validated in the same locked window.
-- squawk-ignore adding-foreign-key-constraint, constraint-missing-not-valid
ALTER TABLE screening.entity_relations ADD COLUMN tenant_id uuid REFERENCES screening.tenants (tenant_id) ON DELETE CASCADE;
COMMENT ON COLUMN screening.entity_relations.tenant_id IS 'The tenant that discovered this relation; only it sees the relation.';

-- Backfill from the audit trail (FORCEd RLS: read it as each tenant in turn).
DO $$
DECLARE
  t uuid;
BEGIN
  FOR t IN SELECT tenant_id FROM screening.tenants ORDER BY tenant_id LOOP
    PERFORM set_config('app.tenant_id', t::text, true);
    UPDATE screening.entity_profiles p SET tenant_id = t
      FROM screening.audit_events e
     WHERE p.tenant_id IS NULL AND e.tenant_id = t AND e.event_type = 'profile_created'
       AND e.entity_id = p.entity_id AND (e.details ->> 'version')::int = p.version;
    UPDATE screening.entity_relations r SET tenant_id = t
      FROM screening.audit_events e
     WHERE r.tenant_id IS NULL AND e.tenant_id = t AND e.event_type = 'relation_created'
       AND e.entity_id = r.from_entity_id AND e.details ->> 'to' = r.to_entity_id::text AND e.details ->> 'type' = r.relation_type;
    INSERT INTO screening.tenant_entities (tenant_id, entity_id, created_at)
    SELECT t, x.entity_id, min(x.at) FROM (
        SELECT e.entity_id, e.created_at AS at FROM screening.audit_events e
         WHERE e.tenant_id = t AND e.entity_id IS NOT NULL
           AND e.event_type IN ('entity_created', 'profile_created', 'relation_created', 'cache_stored', 'data_accessed', 'entity_deleted')
        UNION ALL
        SELECT (e.details ->> 'to')::uuid, e.created_at FROM screening.audit_events e
         WHERE e.tenant_id = t AND e.event_type = 'relation_created' AND e.details ? 'to'
        UNION ALL
        SELECT c.entity_id, c.created_at FROM screening.cached_data_sources c WHERE c.customer_id = t
      ) x
     WHERE EXISTS (SELECT FROM screening.entities en WHERE en.entity_id = x.entity_id)
     GROUP BY x.entity_id
    ON CONFLICT DO NOTHING;
  END LOOP;
  PERFORM set_config('app.tenant_id', '', true);
  IF EXISTS (SELECT FROM screening.entity_profiles WHERE tenant_id IS NULL)
     OR EXISTS (SELECT FROM screening.entity_relations WHERE tenant_id IS NULL) THEN
    INSERT INTO screening.tenants (slug, name, is_active) VALUES ('unattributed', 'Rows no tenant could be attributed to (migration 20261129190000000)', false)
    ON CONFLICT (slug) DO NOTHING;
    UPDATE screening.entity_profiles SET tenant_id = (SELECT tenant_id FROM screening.tenants WHERE slug = 'unattributed') WHERE tenant_id IS NULL;
    UPDATE screening.entity_relations SET tenant_id = (SELECT tenant_id FROM screening.tenants WHERE slug = 'unattributed') WHERE tenant_id IS NULL;
  END IF;
END $$;
-- Profiles and relations of a tenant imply its link to their entities.
INSERT INTO screening.tenant_entities (tenant_id, entity_id, created_at)
SELECT tenant_id, entity_id, min(created_at) FROM screening.entity_profiles GROUP BY 1, 2
UNION
SELECT tenant_id, x, min(created_at) FROM screening.entity_relations, LATERAL (VALUES (from_entity_id), (to_entity_id)) v (x) GROUP BY 1, 2
ON CONFLICT DO NOTHING;
-- The old global soft delete becomes every linked tenant's.
UPDATE screening.tenant_entities l SET deleted_at = e.deleted_at FROM screening.entities e WHERE e.entity_id = l.entity_id AND e.deleted_at IS NOT NULL;

-- squawk-ignore adding-not-nullable-field
ALTER TABLE screening.entity_profiles ALTER COLUMN tenant_id SET NOT NULL;
-- squawk-ignore adding-not-nullable-field
ALTER TABLE screening.entity_relations ALTER COLUMN tenant_id SET NOT NULL;
-- The unique key changes from (entity, version) to (tenant, entity, version) inside this migration's transaction:
-- CONCURRENTLY cannot run in a transaction; the table is locked for the backfill anyway.
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX screening.idx_profile_version;
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX idx_profile_version ON screening.entity_profiles (tenant_id, entity_id, version);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX entity_profiles_entity_id_idx ON screening.entity_profiles (entity_id);
ALTER TABLE screening.entity_relations DROP CONSTRAINT entity_relations_from_to_type_key;
-- The relation key gains tenant_id in the same locked window (rows already satisfy it: the old key was stricter).
-- squawk-ignore constraint-missing-not-valid, disallowed-unique-constraint
ALTER TABLE screening.entity_relations ADD CONSTRAINT entity_relations_from_to_type_key UNIQUE (tenant_id, from_entity_id, to_entity_id, relation_type);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX idx_from_entity ON screening.entity_relations (from_entity_id);
-- entities.deleted_at moved to tenant_entities.deleted_at above (per tenant); Down restores it.
-- squawk-ignore ban-drop-column
ALTER TABLE screening.entities DROP COLUMN deleted_at;

-- Row-level security ------------------------------------------------------------------------------------------
ALTER TABLE screening.tenant_entities ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON screening.tenant_entities
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE (deleted_at) ON screening.tenant_entities TO app;

-- app links its tenant only to an entity its own transaction created (createEntity, bulk loads); a shared
-- entity is linked by resolving an identifier (screening.resolve_identifier, below).
CREATE FUNCTION screening.created_in_this_transaction(p_entity_id uuid) RETURNS boolean
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, screening
  AS $$ SELECT EXISTS (SELECT FROM screening.entities e
                        WHERE e.entity_id = p_entity_id AND e.xmin::text = (txid_current() % 4294967296)::text) $$;
COMMENT ON FUNCTION screening.created_in_this_transaction(uuid) IS 'True when the entity row was inserted by the current transaction (its xmin is this transaction''s id).';
REVOKE EXECUTE ON FUNCTION screening.created_in_this_transaction(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION screening.created_in_this_transaction(uuid) TO app;
CREATE POLICY new_entities_only ON screening.tenant_entities AS RESTRICTIVE FOR INSERT TO app
  WITH CHECK (screening.created_in_this_transaction(entity_id));

CREATE FUNCTION screening.resolve_identifier(p_kind text, p_blind_index bytea) RETURNS uuid
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, screening
  AS $$
DECLARE
  t uuid := screening.require_live_tenant();
  e uuid;
BEGIN
  SELECT i.entity_id INTO e FROM screening.entity_identifiers i WHERE i.identifier_kind = p_kind AND i.blind_index = p_blind_index;
  IF e IS NOT NULL THEN
    INSERT INTO screening.tenant_entities (tenant_id, entity_id) VALUES (t, e) ON CONFLICT (tenant_id, entity_id) DO NOTHING;
  END IF;
  RETURN e;
END $$;
COMMENT ON FUNCTION screening.resolve_identifier(text, bytea) IS 'The entity holding this blind-indexed identifier, linked to the current (live) tenant: how a tenant starts screening a shared entity. NULL when none.';
REVOKE EXECUTE ON FUNCTION screening.resolve_identifier(text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION screening.resolve_identifier(text, bytea) TO app;

ALTER TABLE screening.entity_profiles ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON screening.entity_profiles
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
              AND EXISTS (SELECT FROM screening.tenant_entities l WHERE l.entity_id = entity_profiles.entity_id AND l.deleted_at IS NULL));
COMMENT ON COLUMN screening.entity_profiles.version IS '1, 2, 3, ... per (tenant, entity), without gaps (UNIQUE with tenant_id and entity_id).';

-- A relation's discovered_in_screening may only name a profile of the same tenant (foreign-key checks bypass
-- row-level security, so a single-column key would let a tenant probe other tenants' profile ids).
-- The table is locked for this migration anyway; both constraints are checked against existing rows here.
-- squawk-ignore constraint-missing-not-valid, disallowed-unique-constraint
ALTER TABLE screening.entity_profiles ADD CONSTRAINT entity_profiles_tenant_profile_key UNIQUE (tenant_id, profile_id);
ALTER TABLE screening.entity_relations DROP CONSTRAINT entity_relations_discovered_in_screening_fkey;
-- squawk-ignore adding-foreign-key-constraint, constraint-missing-not-valid
ALTER TABLE screening.entity_relations ADD CONSTRAINT entity_relations_discovered_in_screening_fkey
  FOREIGN KEY (tenant_id, discovered_in_screening) REFERENCES screening.entity_profiles (tenant_id, profile_id) ON DELETE SET NULL (discovered_in_screening);
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX screening.idx_relation_discovered;
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX idx_relation_discovered ON screening.entity_relations (tenant_id, discovered_in_screening);

ALTER TABLE screening.entity_relations ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON screening.entity_relations
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
              AND EXISTS (SELECT FROM screening.tenant_entities l WHERE l.entity_id = from_entity_id AND l.deleted_at IS NULL)
              AND EXISTS (SELECT FROM screening.tenant_entities l WHERE l.entity_id = to_entity_id AND l.deleted_at IS NULL));

-- Entities and identifiers: not FORCEd (the platform rotates keys and erases as the owner); app sees an entity
-- and its identifiers only through a link of its tenant, and attaches identifiers only to such an entity
-- (resolving an identifier to a shared entity goes through screening.resolve_identifier()).
ALTER TABLE screening.entities ENABLE ROW LEVEL SECURITY;
CREATE POLICY linked_tenant ON screening.entities TO app
  USING (EXISTS (SELECT FROM screening.tenant_entities l WHERE l.entity_id = entities.entity_id))
  WITH CHECK (true);
REVOKE DELETE, UPDATE ON screening.entities FROM app;

ALTER TABLE screening.entity_identifiers ENABLE ROW LEVEL SECURITY;
CREATE POLICY linked_entities ON screening.entity_identifiers TO app
  USING (EXISTS (SELECT FROM screening.tenant_entities l WHERE l.entity_id = entity_identifiers.entity_id))
  WITH CHECK (EXISTS (SELECT FROM screening.tenant_entities l WHERE l.entity_id = entity_identifiers.entity_id AND l.deleted_at IS NULL));

-- Live tenants only, for app, on every screening table (AND-ed with the policies above).
CREATE POLICY live_tenant ON screening.entities AS RESTRICTIVE TO app USING ((SELECT screening.current_tenant()) IS NOT NULL) WITH CHECK ((SELECT screening.current_tenant()) IS NOT NULL);
CREATE POLICY live_tenant ON screening.entity_identifiers AS RESTRICTIVE TO app USING ((SELECT screening.current_tenant()) IS NOT NULL) WITH CHECK ((SELECT screening.current_tenant()) IS NOT NULL);
CREATE POLICY live_tenant ON screening.tenant_entities AS RESTRICTIVE TO app USING ((SELECT screening.current_tenant()) IS NOT NULL) WITH CHECK ((SELECT screening.current_tenant()) IS NOT NULL);
CREATE POLICY live_tenant ON screening.entity_profiles AS RESTRICTIVE TO app USING ((SELECT screening.current_tenant()) IS NOT NULL) WITH CHECK ((SELECT screening.current_tenant()) IS NOT NULL);
CREATE POLICY live_tenant ON screening.entity_relations AS RESTRICTIVE TO app USING ((SELECT screening.current_tenant()) IS NOT NULL) WITH CHECK ((SELECT screening.current_tenant()) IS NOT NULL);
CREATE POLICY live_tenant ON screening.cached_data_sources AS RESTRICTIVE TO app USING ((SELECT screening.current_tenant()) IS NOT NULL) WITH CHECK ((SELECT screening.current_tenant()) IS NOT NULL);
CREATE POLICY live_tenant ON screening.audit_events AS RESTRICTIVE TO app USING ((SELECT screening.current_tenant()) IS NOT NULL) WITH CHECK ((SELECT screening.current_tenant()) IS NOT NULL);

-- The shared paid_external cache rows: a tenant may not delete them (only its own customer_provided rows), and
-- stores provider data only for an entity it uses.
CREATE POLICY own_rows_delete ON screening.cached_data_sources AS RESTRICTIVE FOR DELETE TO app USING (customer_id = (SELECT screening.current_tenant()));
CREATE POLICY used_entity ON screening.cached_data_sources AS RESTRICTIVE FOR INSERT TO app
  WITH CHECK (EXISTS (SELECT FROM screening.tenant_entities l WHERE l.entity_id = cached_data_sources.entity_id AND l.deleted_at IS NULL));

-- Erasure (platform) ------------------------------------------------------------------------------------------
CREATE FUNCTION screening.erase_entity(p_entity_id uuid, p_actor_id uuid, p_correlation_id uuid)
  RETURNS TABLE (tenant_id uuid, profiles bigint, relations bigint, cached bigint)
  LANGUAGE plpgsql SET search_path = pg_catalog, screening
  AS $$
DECLARE
  t uuid;
  n_profiles bigint;
  n_relations bigint;
  n_cached bigint;
  linked boolean;
BEGIN
  IF NOT EXISTS (SELECT FROM screening.entities e WHERE e.entity_id = p_entity_id) THEN
    RETURN;
  END IF;
  -- Tenant-owned rows are under FORCEd RLS even for the owner: count them as each tenant in turn (the
  -- explicit tenant filters keep the counts right for a superuser, whom RLS does not restrict).
  FOR t IN SELECT x.tenant_id FROM screening.tenants x ORDER BY x.tenant_id LOOP
    PERFORM set_config('app.tenant_id', t::text, true);
    SELECT count(*) INTO n_profiles FROM screening.entity_profiles p WHERE p.tenant_id = t AND p.entity_id = p_entity_id;
    SELECT count(*) INTO n_relations FROM screening.entity_relations r WHERE r.tenant_id = t AND p_entity_id IN (r.from_entity_id, r.to_entity_id);
    SELECT count(*) INTO n_cached FROM screening.cached_data_sources c WHERE c.entity_id = p_entity_id AND c.customer_id = t;
    linked := EXISTS (SELECT FROM screening.tenant_entities l WHERE l.tenant_id = t AND l.entity_id = p_entity_id);
    IF linked OR n_profiles + n_relations + n_cached > 0 THEN
      INSERT INTO screening.audit_events (tenant_id, actor_id, event_type, correlation_id, entity_id, details)
      VALUES (t, p_actor_id, 'entity_erased', p_correlation_id, p_entity_id,
              jsonb_build_object('by', 'platform', 'profiles', n_profiles, 'relations', n_relations, 'customer_cache_rows', n_cached));
      tenant_id := t; profiles := n_profiles; relations := n_relations; cached := n_cached;
      RETURN NEXT;
    END IF;
  END LOOP;
  PERFORM set_config('app.tenant_id', '', true);
  -- Profiles, relations, cache rows, identifiers and links go with it (ON DELETE CASCADE; referential
  -- actions bypass row-level security).
  DELETE FROM screening.entities e WHERE e.entity_id = p_entity_id;
END $$;
COMMENT ON FUNCTION screening.erase_entity(uuid, uuid, uuid) IS 'Right to erasure (platform only): writes entity_erased into each affected tenant''s trail, then deletes the entity and everything hanging off it.';
REVOKE EXECUTE ON FUNCTION screening.erase_entity(uuid, uuid, uuid) FROM PUBLIC;

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '600s';

DROP FUNCTION screening.erase_entity(uuid, uuid, uuid);
DROP POLICY live_tenant ON screening.audit_events;
DROP POLICY live_tenant ON screening.cached_data_sources;
DROP POLICY own_rows_delete ON screening.cached_data_sources;
DROP POLICY used_entity ON screening.cached_data_sources;
DROP FUNCTION screening.resolve_identifier(text, bytea);
DROP POLICY new_entities_only ON screening.tenant_entities;
DROP FUNCTION screening.created_in_this_transaction(uuid);
-- Down section: the single-column key of the first screening migration.
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX screening.idx_relation_discovered;
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX idx_relation_discovered ON screening.entity_relations (discovered_in_screening);
ALTER TABLE screening.entity_relations DROP CONSTRAINT entity_relations_discovered_in_screening_fkey;
-- squawk-ignore adding-foreign-key-constraint, constraint-missing-not-valid
ALTER TABLE screening.entity_relations ADD CONSTRAINT entity_relations_discovered_in_screening_fkey
  FOREIGN KEY (discovered_in_screening) REFERENCES screening.entity_profiles (profile_id) ON DELETE SET NULL;
ALTER TABLE screening.entity_profiles DROP CONSTRAINT entity_profiles_tenant_profile_key;
COMMENT ON COLUMN screening.entity_profiles.version IS '1, 2, 3, ... per entity, without gaps (UNIQUE with entity_id).';
DROP POLICY live_tenant ON screening.entity_relations;
DROP POLICY live_tenant ON screening.entity_profiles;
DROP POLICY live_tenant ON screening.tenant_entities;
DROP POLICY live_tenant ON screening.entity_identifiers;
DROP POLICY live_tenant ON screening.entities;
DROP POLICY linked_entities ON screening.entity_identifiers;
ALTER TABLE screening.entity_identifiers DISABLE ROW LEVEL SECURITY;
GRANT DELETE ON screening.entities TO app;
GRANT UPDATE (canonical_identifiers) ON screening.entities TO app;
DROP POLICY linked_tenant ON screening.entities;
ALTER TABLE screening.entities DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant_isolation ON screening.entity_relations;
ALTER TABLE screening.entity_relations DISABLE ROW LEVEL SECURITY, NO FORCE ROW LEVEL SECURITY;
DROP POLICY tenant_isolation ON screening.entity_profiles;
ALTER TABLE screening.entity_profiles DISABLE ROW LEVEL SECURITY, NO FORCE ROW LEVEL SECURITY;

ALTER TABLE screening.entities ADD COLUMN deleted_at timestamptz;
COMMENT ON COLUMN screening.entities.deleted_at IS 'Soft delete: set by the normal delete; NULL while active.';
GRANT UPDATE (deleted_at) ON screening.entities TO app;
DO $$
DECLARE
  t uuid;
BEGIN
  CREATE TEMP TABLE links_down (entity_id uuid, deleted_at timestamptz) ON COMMIT DROP;
  FOR t IN SELECT tenant_id FROM screening.tenants LOOP
    PERFORM set_config('app.tenant_id', t::text, true);
    INSERT INTO links_down SELECT l.entity_id, l.deleted_at FROM screening.tenant_entities l WHERE l.tenant_id = t;
  END LOOP;
  PERFORM set_config('app.tenant_id', '', true);
  UPDATE screening.entities e SET deleted_at = d.at
    FROM (SELECT entity_id, max(deleted_at) AS at FROM links_down GROUP BY entity_id HAVING bool_and(deleted_at IS NOT NULL)) d
   WHERE d.entity_id = e.entity_id;
END $$;

ALTER TABLE screening.entity_relations DROP CONSTRAINT entity_relations_from_to_type_key;
-- Down section: reverting this migration's key change inside its transaction.
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX screening.idx_from_entity;
-- Two tenants may have found the same relation: keep the first, as the old key allows one.
DELETE FROM screening.entity_relations r USING screening.entity_relations o
 WHERE o.from_entity_id = r.from_entity_id AND o.to_entity_id = r.to_entity_id AND o.relation_type = r.relation_type
   AND (o.created_at, o.relation_id) < (r.created_at, r.relation_id);
-- Down section: the old, stricter key (duplicates across tenants removed just above).
-- squawk-ignore constraint-missing-not-valid, disallowed-unique-constraint
ALTER TABLE screening.entity_relations ADD CONSTRAINT entity_relations_from_to_type_key UNIQUE (from_entity_id, to_entity_id, relation_type);
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX screening.entity_profiles_entity_id_idx;
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX screening.idx_profile_version;
-- Versions were per (entity, tenant); the old key is per entity: renumber in creation order.
UPDATE screening.entity_profiles p SET version = n.v, previous_version = nullif(n.v - 1, 0)
  FROM (SELECT profile_id, row_number() OVER (PARTITION BY entity_id ORDER BY created_at, version, profile_id)::int AS v FROM screening.entity_profiles) n
 WHERE n.profile_id = p.profile_id AND (p.version, p.previous_version) IS DISTINCT FROM (n.v, nullif(n.v - 1, 0));
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX idx_profile_version ON screening.entity_profiles (entity_id, version);
-- Down section: drops the columns this migration added.
-- squawk-ignore ban-drop-column
ALTER TABLE screening.entity_relations DROP COLUMN tenant_id;
-- squawk-ignore ban-drop-column
ALTER TABLE screening.entity_profiles DROP COLUMN tenant_id;
-- squawk-ignore ban-drop-table
DROP TABLE screening.tenant_entities;
DROP POLICY own_tenant ON screening.tenants;
ALTER TABLE screening.tenants DISABLE ROW LEVEL SECURITY;
DROP FUNCTION screening.require_live_tenant();
DROP FUNCTION screening.current_tenant();
