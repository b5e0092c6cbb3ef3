-- Migration: wills schema (seed 004, plan 01-01): POPIA consent records, versioned clause library,
-- partitioned immutable audit log.
--
-- What:
--   * wills.consent_records: who (data_subject_id) consented to which processing categories
--     (consent_categories: JSONB object of category -> boolean, per decision D-0101-03), under which
--     privacy-policy and consent-text versions, when, from where (ip_address inet, user_agent), how
--     (channel), and when it was withdrawn. Withdrawal sets withdrawn_at and never deletes: `app` may
--     UPDATE only that column and has no DELETE. At most one active record per subject and policy version.
--   * wills.clauses: versioned clause templates, a linked list per stable `code` (decision D-0101-02).
--     Chain integrity is declarative: (previous_version_id, code, previous_version) must match the
--     (id, code, version) of an existing row, where previous_version is generated as version - 1. So a
--     version's predecessor has the same code and the version number just before it, and version 1 has
--     none. Exactly one current version per code (partial UNIQUE). `app` may INSERT and flip is_current,
--     never rewrite a published body.
--   * wills.audit_logs: PARTITION BY RANGE (created_at) monthly (D-0101-01), PRIMARY KEY (id, created_at)
--     (D-0101-04). Append-only for every role through core.make_append_only (the seed left REVOKE
--     UPDATE/DELETE as a manual production step; here it is in the migration, and `app` is granted only
--     SELECT and INSERT). Partitions for the current month and 3 ahead plus DEFAULT are created here;
--     `make partitions` keeps them ahead. Subjects, actors and resources are plain uuid/text columns, not
--     foreign keys: an audit row must outlive what it describes, and ON DELETE SET NULL/CASCADE would
--     have to rewrite or remove it.
-- Seed vocabulary the plan left open, chosen here: ClauseCategory and WillType values (below), consent
--   channels (web, mobile, email, phone, in_person, api).
-- Improvements on the seed: timestamptz instead of timestamp; UUIDv7 keys from core; updated_at kept by the
--   core trigger; will_types stays JSONB as the seed decided but is CHECKed to be a non-empty array of
--   known will types.
-- Safety: new schema and tables only.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE SCHEMA wills;
COMMENT ON SCHEMA wills IS 'Will-drafting platform (POPIA): consent records, versioned clause library, immutable audit log.';
GRANT USAGE ON SCHEMA wills TO app;

-- consent_records -------------------------------------------------------------------------------------

CREATE TABLE wills.consent_records (
  id                     uuid PRIMARY KEY DEFAULT core.uuidv7(),
  data_subject_id        uuid NOT NULL,
  consent_categories     jsonb NOT NULL,
  privacy_policy_version text NOT NULL,
  consent_text_version   text NOT NULL,
  channel                text NOT NULL,
  ip_address             inet,
  user_agent             text,
  granted_at             timestamptz NOT NULL DEFAULT now(),
  withdrawn_at           timestamptz,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT consent_records_categories_boolean_map CHECK (
    jsonb_typeof(consent_categories) = 'object'
    AND consent_categories <> '{}'::jsonb
    AND NOT jsonb_path_exists(consent_categories, '$.* ? (@.type() != "boolean")')),
  CONSTRAINT consent_records_policy_version_format CHECK (privacy_policy_version ~ '^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$'),
  CONSTRAINT consent_records_text_version_format CHECK (consent_text_version ~ '^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$'),
  CONSTRAINT consent_records_channel_check CHECK (channel IN ('web', 'mobile', 'email', 'phone', 'in_person', 'api')),
  CONSTRAINT consent_records_user_agent_length CHECK (char_length(user_agent) <= 1024),
  CONSTRAINT consent_records_withdrawn_after_granted CHECK (withdrawn_at IS NULL OR withdrawn_at >= granted_at)
);
COMMENT ON TABLE wills.consent_records IS 'POPIA consent: one row per grant. Withdrawal sets withdrawn_at; rows are never deleted. A new policy version means a new row.';
COMMENT ON COLUMN wills.consent_records.data_subject_id IS 'The person the personal information is about (POPIA data subject); owned by the identity service, so no FK.';
COMMENT ON COLUMN wills.consent_records.consent_categories IS 'Processing category -> granted (boolean), e.g. {"will_drafting": true, "marketing": false}.';
COMMENT ON COLUMN wills.consent_records.privacy_policy_version IS 'Version of the privacy policy the subject accepted.';
COMMENT ON COLUMN wills.consent_records.consent_text_version IS 'Version of the consent wording shown to the subject.';
COMMENT ON COLUMN wills.consent_records.channel IS 'How consent was given: web, mobile, email, phone, in_person or api.';
COMMENT ON COLUMN wills.consent_records.withdrawn_at IS 'When the subject withdrew this consent; NULL while active.';

CREATE UNIQUE INDEX consent_records_one_active_per_policy
  ON wills.consent_records (data_subject_id, privacy_policy_version) WHERE withdrawn_at IS NULL;
COMMENT ON INDEX wills.consent_records_one_active_per_policy IS 'At most one active (not withdrawn) consent per subject and policy version.';
CREATE INDEX consent_records_subject_granted_idx ON wills.consent_records (data_subject_id, granted_at DESC);

CREATE TRIGGER touch_updated_at BEFORE UPDATE ON wills.consent_records
  FOR EACH ROW EXECUTE FUNCTION core.touch_updated_at();

GRANT SELECT, INSERT ON wills.consent_records TO app;
GRANT UPDATE (withdrawn_at) ON wills.consent_records TO app;

-- clauses ---------------------------------------------------------------------------------------------

CREATE TYPE wills.clause_category AS ENUM (
  'revocation', 'executor', 'guardian', 'bequest', 'residue', 'trust', 'usufruct', 'funeral', 'attestation', 'general');
COMMENT ON TYPE wills.clause_category IS 'ClauseCategory: the part of a will a clause belongs to.';

CREATE TABLE wills.clauses (
  id                  uuid PRIMARY KEY DEFAULT core.uuidv7(),
  code                text NOT NULL,
  -- A per-row version or count: never near 2^31.
  -- squawk-ignore prefer-bigint-over-int
  version             integer NOT NULL,
  previous_version_id uuid,
  -- A per-row version or count: never near 2^31.
  -- squawk-ignore prefer-bigint-over-int
  previous_version    integer GENERATED ALWAYS AS (CASE WHEN version > 1 THEN version - 1 END) STORED,
  is_current          boolean NOT NULL DEFAULT true,
  title               text NOT NULL,
  body                text NOT NULL,
  variables_schema    jsonb NOT NULL DEFAULT '{"type": "object", "properties": {}}'::jsonb,
  category            wills.clause_category NOT NULL,
  will_types          jsonb NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT clauses_code_format CHECK (code ~ '^[a-z][a-z0-9_]{1,63}$'),
  CONSTRAINT clauses_version_positive CHECK (version >= 1),
  CONSTRAINT clauses_previous_iff_not_first CHECK ((version = 1) = (previous_version_id IS NULL)),
  CONSTRAINT clauses_title_length CHECK (char_length(title) BETWEEN 1 AND 200),
  CONSTRAINT clauses_body_length CHECK (char_length(body) BETWEEN 1 AND 50000),
  CONSTRAINT clauses_variables_schema_object CHECK (jsonb_typeof(variables_schema) = 'object'),
  CONSTRAINT clauses_will_types_known CHECK (
    jsonb_typeof(will_types) = 'array' AND jsonb_array_length(will_types) >= 1
    AND will_types <@ '["single", "joint", "mirror", "trust", "living"]'::jsonb),
  CONSTRAINT clauses_code_version_key UNIQUE (code, version),
  CONSTRAINT clauses_id_code_version_key UNIQUE (id, code, version),
  CONSTRAINT clauses_previous_version_fk FOREIGN KEY (previous_version_id, code, previous_version)
    REFERENCES wills.clauses (id, code, version) ON DELETE RESTRICT
);
COMMENT ON TABLE wills.clauses IS 'Clause templates, versioned as a linked list per code (previous_version_id); exactly one current version per code.';
COMMENT ON COLUMN wills.clauses.code IS 'Stable identifier of a clause lineage, shared by all its versions.';
COMMENT ON COLUMN wills.clauses.previous_version_id IS 'The version this one revises; NULL exactly for version 1.';
COMMENT ON COLUMN wills.clauses.previous_version IS 'version - 1 (generated), so the chain FK can check the predecessor''s version number.';
COMMENT ON COLUMN wills.clauses.is_current IS 'True for the one version of the code in use; publishing a revision flips it in the same transaction.';
COMMENT ON COLUMN wills.clauses.body IS 'Clause text with named variables such as {{testator_name}}.';
COMMENT ON COLUMN wills.clauses.variables_schema IS 'JSON Schema (object) describing the variables the body uses.';
COMMENT ON COLUMN wills.clauses.will_types IS 'WillType values the clause applies to: non-empty JSON array of single, joint, mirror, trust, living.';

CREATE UNIQUE INDEX clauses_one_current_per_code ON wills.clauses (code) WHERE is_current;
COMMENT ON INDEX wills.clauses_one_current_per_code IS 'Exactly one current version per clause code.';
CREATE INDEX clauses_current_category_idx ON wills.clauses (category, code) WHERE is_current;
CREATE INDEX clauses_current_will_types_idx ON wills.clauses USING gin (will_types jsonb_path_ops) WHERE is_current;
CREATE INDEX clauses_previous_version_fk_idx ON wills.clauses (previous_version_id, code, previous_version);

CREATE TRIGGER touch_updated_at BEFORE UPDATE ON wills.clauses
  FOR EACH ROW EXECUTE FUNCTION core.touch_updated_at();

GRANT SELECT, INSERT ON wills.clauses TO app;
GRANT UPDATE (is_current) ON wills.clauses TO app;

-- audit_logs ------------------------------------------------------------------------------------------

CREATE TABLE wills.audit_logs (
  id              uuid NOT NULL DEFAULT core.uuidv7(),
  created_at      timestamptz NOT NULL DEFAULT now(),
  action          text NOT NULL,
  actor_id        uuid,
  actor_type      text NOT NULL,
  data_subject_id uuid,
  resource_type   text NOT NULL,
  resource_id     uuid,
  correlation_id  uuid,
  ip_address      inet,
  user_agent      text,
  details         jsonb NOT NULL DEFAULT '{}'::jsonb,
  PRIMARY KEY (id, created_at),
  CONSTRAINT audit_logs_action_format CHECK (action ~ '^[a-z][a-z_]*\.[a-z][a-z_]*$'),
  CONSTRAINT audit_logs_actor_type_check CHECK (actor_type IN ('data_subject', 'staff', 'system')),
  CONSTRAINT audit_logs_resource_type_format CHECK (resource_type ~ '^[a-z][a-z_]{0,63}$'),
  CONSTRAINT audit_logs_user_agent_length CHECK (char_length(user_agent) <= 1024),
  CONSTRAINT audit_logs_details_object CHECK (jsonb_typeof(details) = 'object')
) PARTITION BY RANGE (created_at);
COMMENT ON TABLE wills.audit_logs IS 'Immutable audit trail (POPIA accountability): monthly partitions, append-only for every role. No FKs: rows outlive what they describe.';
COMMENT ON COLUMN wills.audit_logs.action IS 'What happened, as <resource>.<verb>: consent.granted, consent.withdrawn, clause.created, clause.published, ...';
COMMENT ON COLUMN wills.audit_logs.actor_id IS 'Who did it (user id); NULL for the system. Plain uuid, not a FK.';
COMMENT ON COLUMN wills.audit_logs.data_subject_id IS 'Whose personal information the event concerns, if anyone''s.';
COMMENT ON COLUMN wills.audit_logs.resource_id IS 'The row the event is about (consent record, clause version); plain uuid, not a FK.';
COMMENT ON COLUMN wills.audit_logs.correlation_id IS 'Request id shared by every event of one call.';
COMMENT ON COLUMN wills.audit_logs.details IS 'Event specifics (JSON object); never plaintext secrets.';

CREATE INDEX audit_logs_subject_idx ON wills.audit_logs (data_subject_id, created_at);
CREATE INDEX audit_logs_resource_idx ON wills.audit_logs (resource_type, resource_id, created_at);

SELECT core.make_append_only('wills.audit_logs');
SELECT count(*) FROM core.ensure_monthly_partitions('wills.audit_logs', 3);

GRANT SELECT, INSERT ON wills.audit_logs TO app;

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Down section: drops the table this migration created.
-- squawk-ignore ban-drop-table
DROP TABLE wills.audit_logs;
-- Down section: drops the table this migration created.
-- squawk-ignore ban-drop-table
DROP TABLE wills.clauses;
DROP TYPE wills.clause_category;
-- Down section: drops the table this migration created.
-- squawk-ignore ban-drop-table
DROP TABLE wills.consent_records;
REVOKE USAGE ON SCHEMA wills FROM app;
DROP SCHEMA wills;
