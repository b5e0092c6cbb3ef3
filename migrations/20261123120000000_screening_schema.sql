-- Migration: screening schema (seeds 000, 001, 002): tenants, entities with encrypted identifiers and
-- blind indexes, relations, versioned profiles, provider cache, partitioned audit events.
--
-- What:
--   * screening.tenants: customers, identified by a url-safe slug.
--   * screening.entities: people, organisations and addresses, shared across tenants (the seed's
--     cross-screening reuse). canonical_identifiers is stored ENCRYPTED (AES-256-GCM in the application,
--     bytea here; seed 002 "PII encrypted at rest"). Soft delete via deleted_at; a hard erase cascades.
--   * screening.entity_identifiers (new; the seed's "duplicate entity prevention"): one HMAC-SHA256 blind
--     index per identifier kind (ssn, ein, ...), PRIMARY KEY (identifier_kind, blind_index), so the same SSN
--     or EIN can never create two entities and an entity is found by identifier without plaintext.
--   * screening.entity_profiles: versioned snapshots, UNIQUE (entity_id, version); previous_version is
--     NULL for version 1 and version - 1 otherwise (CHECK).
--   * screening.entity_relations: directed, typed links with a confidence in [0, 1], no self-links, one
--     row per (from, to, type); discovered_in_screening -> the profile that found it (ON DELETE SET NULL).
--   * screening.cached_data_sources: provider responses (raw_response ENCRYPTED) with freshness windows
--     and cost. Row-level security: paid_external rows are shared by all tenants (the seed's reuse of paid
--     data); customer_provided rows are visible and writable only by their customer.
--   * screening.audit_events: append-only (core guard for every role; `app` has INSERT and SELECT only),
--     monthly RANGE partitions on created_at with PRIMARY KEY (event_id, created_at), RLS per tenant.
--     Tenants, actors and entities are plain uuid columns, not FKs: an audit row outlives what it
--     describes, and ON DELETE SET NULL/CASCADE would have to rewrite or delete history.
-- Names: the seed's table and column names are kept (entity_id, profile_id, cache_id, relation_id,
--   tenant_id). Added: entity_identifiers, entities.deleted_at, tenants.is_active, audit_events.
-- Improvements on the seed: UUIDv7 keys from core; updated_at by the core trigger; entity_type and the
--   closed vocabularies as CHECKs/enums; JSONB instead of JSON; CHECKs on confidence, versions, counts,
--   freshness windows, cost and currency.
-- Safety: new schema and tables only.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE SCHEMA screening;
COMMENT ON SCHEMA screening IS 'Background-screening platform: entities, relations, versioned profiles, provider cache, tenants, audit events.';
GRANT USAGE ON SCHEMA screening TO app;

-- tenants ---------------------------------------------------------------------------------------------
CREATE TABLE screening.tenants (
  tenant_id  uuid PRIMARY KEY DEFAULT core.uuidv7(),
  slug       text NOT NULL CONSTRAINT tenants_slug_key UNIQUE,
  name       text NOT NULL,
  is_active  boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT tenants_slug_format CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
  CONSTRAINT tenants_name_length CHECK (char_length(name) BETWEEN 1 AND 200)
);
COMMENT ON TABLE screening.tenants IS 'Customers of the screening platform; the tenant of every request.';
COMMENT ON COLUMN screening.tenants.slug IS 'Stable url-safe identity: lower-case letters, digits and inner hyphens, at most 63 chars.';
COMMENT ON COLUMN screening.tenants.is_active IS 'False once deactivated; rows are kept.';
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON screening.tenants FOR EACH ROW EXECUTE FUNCTION core.touch_updated_at();
GRANT SELECT ON screening.tenants TO app;

-- entities --------------------------------------------------------------------------------------------
CREATE TYPE screening.entity_type AS ENUM ('individual', 'organization', 'address');
COMMENT ON TYPE screening.entity_type IS 'EntityType: what an entity is.';

CREATE TABLE screening.entities (
  entity_id             uuid PRIMARY KEY DEFAULT core.uuidv7(),
  entity_type           screening.entity_type NOT NULL,
  canonical_identifiers bytea NOT NULL,
  deleted_at            timestamptz,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE screening.entities IS 'People, organisations and addresses screened, shared across tenants. Soft-deleted via deleted_at; erased by DELETE (cascades).';
COMMENT ON COLUMN screening.entities.canonical_identifiers IS 'AES-256-GCM ciphertext (key id inside) of the JSON object of identifiers (ssn, ein, ...). Never plaintext.';
COMMENT ON COLUMN screening.entities.deleted_at IS 'Soft delete: set by the normal delete; NULL while active.';
CREATE INDEX idx_entity_type ON screening.entities (entity_type);
CREATE INDEX idx_entity_created ON screening.entities (created_at);
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON screening.entities FOR EACH ROW EXECUTE FUNCTION core.touch_updated_at();
GRANT SELECT, INSERT, DELETE ON screening.entities TO app;
GRANT UPDATE (deleted_at, canonical_identifiers) ON screening.entities TO app;

CREATE TABLE screening.entity_identifiers (
  identifier_kind text NOT NULL,
  blind_index     bytea NOT NULL,
  entity_id       uuid NOT NULL REFERENCES screening.entities (entity_id) ON DELETE CASCADE,
  created_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT entity_identifiers_pkey PRIMARY KEY (identifier_kind, blind_index),
  CONSTRAINT entity_identifiers_kind_check CHECK (identifier_kind IN ('ssn', 'ein', 'passport', 'national_id', 'drivers_license', 'tax_id', 'duns', 'lei', 'address_key')),
  CONSTRAINT entity_identifiers_blind_index_length CHECK (octet_length(blind_index) = 32)
);
COMMENT ON TABLE screening.entity_identifiers IS 'Blind indexes of entity identifiers: one per kind and value, so an identifier maps to exactly one entity without storing plaintext.';
COMMENT ON COLUMN screening.entity_identifiers.blind_index IS 'HMAC-SHA256(BLIND_INDEX_KEY, kind || NUL || normalised value).';
CREATE INDEX entity_identifiers_entity_id_idx ON screening.entity_identifiers (entity_id);
GRANT SELECT, INSERT ON screening.entity_identifiers TO app;

-- entity_profiles -------------------------------------------------------------------------------------
CREATE TABLE screening.entity_profiles (
  profile_id        uuid PRIMARY KEY DEFAULT core.uuidv7(),
  entity_id         uuid NOT NULL REFERENCES screening.entities (entity_id) ON DELETE CASCADE,
  -- A per-row version or count: never near 2^31.
  -- squawk-ignore prefer-bigint-over-int
  version           integer NOT NULL,
  trigger_type      text NOT NULL,
  trigger_id        uuid,
  findings          jsonb NOT NULL,
  risk_score        jsonb NOT NULL,
  connections       jsonb NOT NULL,
  -- A per-row version or count: never near 2^31.
  -- squawk-ignore prefer-bigint-over-int
  connection_count  integer NOT NULL DEFAULT 0,
  data_sources_used jsonb NOT NULL,
  stale_data_used   jsonb NOT NULL DEFAULT '[]'::jsonb,
  -- A per-row version or count: never near 2^31.
  -- squawk-ignore prefer-bigint-over-int
  previous_version  integer,
  delta             jsonb,
  evolution_signals jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT entity_profiles_version_positive CHECK (version >= 1),
  CONSTRAINT entity_profiles_previous_version_check CHECK (
    (version = 1 AND previous_version IS NULL) OR (version > 1 AND previous_version = version - 1)),
  CONSTRAINT entity_profiles_trigger_type_check CHECK (trigger_type IN ('screening', 'monitoring', 'manual')),
  CONSTRAINT entity_profiles_connection_count_check CHECK (connection_count >= 0),
  CONSTRAINT entity_profiles_findings_array CHECK (jsonb_typeof(findings) = 'array'),
  CONSTRAINT entity_profiles_risk_score_object CHECK (jsonb_typeof(risk_score) = 'object')
);
COMMENT ON TABLE screening.entity_profiles IS 'Versioned snapshot of what is known about an entity after a screening, monitoring run or manual review.';
COMMENT ON COLUMN screening.entity_profiles.version IS '1, 2, 3, ... per entity, without gaps (UNIQUE with entity_id).';
COMMENT ON COLUMN screening.entity_profiles.trigger_id IS 'The screening or monitoring run that produced this version.';
COMMENT ON COLUMN screening.entity_profiles.delta IS 'ProfileDelta against the previous version: findings added/removed/changed, risk change, connections added/removed.';
COMMENT ON COLUMN screening.entity_profiles.stale_data_used IS 'Data sources that were past fresh_until when used.';
COMMENT ON COLUMN screening.entity_profiles.evolution_signals IS 'Patterns detected across versions.';
CREATE UNIQUE INDEX idx_profile_version ON screening.entity_profiles (entity_id, version);
CREATE INDEX idx_profile_trigger ON screening.entity_profiles (trigger_type, trigger_id);
CREATE INDEX idx_profile_created ON screening.entity_profiles (created_at);
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON screening.entity_profiles FOR EACH ROW EXECUTE FUNCTION core.touch_updated_at();
GRANT SELECT, INSERT ON screening.entity_profiles TO app;

-- entity_relations ------------------------------------------------------------------------------------
CREATE TABLE screening.entity_relations (
  relation_id             uuid PRIMARY KEY DEFAULT core.uuidv7(),
  from_entity_id          uuid NOT NULL REFERENCES screening.entities (entity_id) ON DELETE CASCADE,
  to_entity_id            uuid NOT NULL REFERENCES screening.entities (entity_id) ON DELETE CASCADE,
  relation_type           text NOT NULL,
  confidence_score        double precision NOT NULL,
  discovered_in_screening uuid REFERENCES screening.entity_profiles (profile_id) ON DELETE SET NULL,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT entity_relations_confidence_range CHECK (confidence_score BETWEEN 0 AND 1),
  CONSTRAINT entity_relations_no_self CHECK (from_entity_id <> to_entity_id),
  CONSTRAINT entity_relations_type_format CHECK (relation_type ~ '^[a-z][a-z_]{0,99}$'),
  CONSTRAINT entity_relations_from_to_type_key UNIQUE (from_entity_id, to_entity_id, relation_type)
);
COMMENT ON TABLE screening.entity_relations IS 'Directed relation between two entities (employer, household, business_partner, ...).';
COMMENT ON COLUMN screening.entity_relations.confidence_score IS 'How sure the link is, 0..1.';
COMMENT ON COLUMN screening.entity_relations.discovered_in_screening IS 'The profile version whose screening found the link; NULL once that profile is gone.';
-- idx_from_entity is covered by the UNIQUE (from_entity_id, to_entity_id, relation_type) index.
CREATE INDEX idx_to_entity ON screening.entity_relations (to_entity_id);
CREATE INDEX idx_relation_type ON screening.entity_relations (relation_type);
CREATE INDEX idx_relation_discovered ON screening.entity_relations (discovered_in_screening);
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON screening.entity_relations FOR EACH ROW EXECUTE FUNCTION core.touch_updated_at();
GRANT SELECT, INSERT, UPDATE (confidence_score, discovered_in_screening), DELETE ON screening.entity_relations TO app;

-- cached_data_sources ---------------------------------------------------------------------------------
CREATE TABLE screening.cached_data_sources (
  cache_id         uuid PRIMARY KEY DEFAULT core.uuidv7(),
  entity_id        uuid NOT NULL REFERENCES screening.entities (entity_id) ON DELETE CASCADE,
  provider_id      text NOT NULL,
  check_type       text NOT NULL,
  data_origin      text NOT NULL,
  customer_id      uuid REFERENCES screening.tenants (tenant_id) ON DELETE CASCADE,
  acquired_at      timestamptz NOT NULL,
  freshness_status text NOT NULL DEFAULT 'fresh',
  fresh_until      timestamptz NOT NULL,
  stale_until      timestamptz NOT NULL,
  raw_response     bytea NOT NULL,
  normalized_data  jsonb NOT NULL,
  cost_incurred    numeric(10, 2) NOT NULL,
  cost_currency    text NOT NULL DEFAULT 'USD',
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT cached_data_sources_origin_check CHECK (data_origin IN ('paid_external', 'customer_provided')),
  CONSTRAINT cached_data_sources_origin_customer CHECK (
    (data_origin = 'customer_provided' AND customer_id IS NOT NULL) OR (data_origin = 'paid_external' AND customer_id IS NULL)),
  CONSTRAINT cached_data_sources_freshness_status_check CHECK (freshness_status IN ('fresh', 'stale', 'expired')),
  CONSTRAINT cached_data_sources_window_order CHECK (acquired_at <= fresh_until AND fresh_until <= stale_until),
  CONSTRAINT cached_data_sources_cost_nonnegative CHECK (cost_incurred >= 0),
  CONSTRAINT cached_data_sources_currency_format CHECK (cost_currency ~ '^[A-Z]{3}$'),
  CONSTRAINT cached_data_sources_provider_format CHECK (provider_id ~ '^[a-z0-9][a-z0-9_.-]{0,99}$'),
  CONSTRAINT cached_data_sources_check_type_format CHECK (check_type ~ '^[a-z][a-z0-9_]{0,99}$')
);
COMMENT ON TABLE screening.cached_data_sources IS 'Provider responses per entity and check type, reused while fresh. paid_external rows are shared across tenants; customer_provided rows belong to one customer (RLS).';
COMMENT ON COLUMN screening.cached_data_sources.data_origin IS 'paid_external (bought from a provider, shared) or customer_provided (supplied by customer_id, private).';
COMMENT ON COLUMN screening.cached_data_sources.customer_id IS 'The tenant that provided the data; required for customer_provided, forbidden for paid_external.';
COMMENT ON COLUMN screening.cached_data_sources.freshness_status IS 'Stored status, refreshed by the sweep; readers compute it from the timestamps.';
COMMENT ON COLUMN screening.cached_data_sources.fresh_until IS 'Until then the data is FRESH; then STALE until stale_until; then EXPIRED.';
COMMENT ON COLUMN screening.cached_data_sources.raw_response IS 'AES-256-GCM ciphertext of the provider''s raw response.';
COMMENT ON COLUMN screening.cached_data_sources.cost_incurred IS 'What acquiring the data cost, in cost_currency (ISO 4217).';
CREATE INDEX idx_cache_entity_check ON screening.cached_data_sources (entity_id, check_type);
CREATE INDEX idx_cache_freshness ON screening.cached_data_sources (freshness_status, fresh_until);
CREATE INDEX idx_cache_provider ON screening.cached_data_sources (provider_id);
CREATE INDEX idx_cache_customer ON screening.cached_data_sources (customer_id);
CREATE INDEX idx_cache_origin ON screening.cached_data_sources (data_origin);
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON screening.cached_data_sources FOR EACH ROW EXECUTE FUNCTION core.touch_updated_at();
ALTER TABLE screening.cached_data_sources ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY shared_paid_or_own ON screening.cached_data_sources
  USING (data_origin = 'paid_external' OR customer_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (data_origin = 'paid_external' OR customer_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE (freshness_status), DELETE ON screening.cached_data_sources TO app;

-- audit_events ----------------------------------------------------------------------------------------
CREATE TABLE screening.audit_events (
  event_id          uuid NOT NULL DEFAULT core.uuidv7(),
  created_at        timestamptz NOT NULL DEFAULT now(),
  tenant_id         uuid NOT NULL,
  actor_id          uuid,
  event_type        text NOT NULL,
  correlation_id    uuid NOT NULL,
  entity_id         uuid,
  details           jsonb NOT NULL DEFAULT '{}'::jsonb,
  sensitive_details bytea,
  PRIMARY KEY (event_id, created_at),
  CONSTRAINT audit_events_event_type_check CHECK (event_type IN (
    'screening_initiated', 'screening_completed', 'data_accessed', 'entity_created', 'entity_updated',
    'entity_deleted', 'entity_erased', 'profile_created', 'relation_created', 'cache_stored', 'tenant_created',
    'tenant_deactivated', 'error')),
  CONSTRAINT audit_events_details_object CHECK (jsonb_typeof(details) = 'object')
) PARTITION BY RANGE (created_at);
COMMENT ON TABLE screening.audit_events IS 'Append-only audit trail per tenant, monthly partitions. No FKs: rows outlive the tenants, actors and entities they name.';
COMMENT ON COLUMN screening.audit_events.tenant_id IS 'The tenant the event belongs to (RLS); plain uuid, not a FK.';
COMMENT ON COLUMN screening.audit_events.actor_id IS 'Who acted; NULL for the system.';
COMMENT ON COLUMN screening.audit_events.correlation_id IS 'Request id shared by every event of one service call.';
COMMENT ON COLUMN screening.audit_events.entity_id IS 'The entity the event concerns; plain uuid, not a FK.';
COMMENT ON COLUMN screening.audit_events.details IS 'Non-sensitive event details (JSON object).';
COMMENT ON COLUMN screening.audit_events.sensitive_details IS 'AES-256-GCM ciphertext of details that include PII.';
CREATE INDEX audit_events_tenant_created_idx ON screening.audit_events (tenant_id, created_at);
CREATE INDEX audit_events_correlation_idx ON screening.audit_events (correlation_id);
CREATE INDEX audit_events_entity_idx ON screening.audit_events (entity_id, created_at);
SELECT core.make_append_only('screening.audit_events');
SELECT count(*) FROM core.ensure_monthly_partitions('screening.audit_events', 3);
ALTER TABLE screening.audit_events ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON screening.audit_events
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT ON screening.audit_events TO app;

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Down section: drops the table this migration created.
-- squawk-ignore ban-drop-table
DROP TABLE screening.audit_events;
-- Down section: drops the table this migration created.
-- squawk-ignore ban-drop-table
DROP TABLE screening.cached_data_sources;
-- Down section: drops the table this migration created.
-- squawk-ignore ban-drop-table
DROP TABLE screening.entity_relations;
-- Down section: drops the table this migration created.
-- squawk-ignore ban-drop-table
DROP TABLE screening.entity_profiles;
-- Down section: drops the table this migration created.
-- squawk-ignore ban-drop-table
DROP TABLE screening.entity_identifiers;
-- Down section: drops the table this migration created.
-- squawk-ignore ban-drop-table
DROP TABLE screening.entities;
DROP TYPE screening.entity_type;
-- Down section: drops the table this migration created.
-- squawk-ignore ban-drop-table
DROP TABLE screening.tenants;
REVOKE USAGE ON SCHEMA screening FROM app;
DROP SCHEMA screening;
