-- Migration: workspace schema (seed 003): the AI workspace's organisations, users, memories with pgvector
-- embeddings, messaging, tasks, integrations with synced mail/calendar/drive, knowledge graph, RBAC,
-- documents, devices, notifications and a partitioned append-only audit log. All 24 tables of the seed.
--
-- Names: the seed's table, column and index names are kept (idx_*). Indexes added beyond the seed's are
--   named <table>_<columns>_idx and exist because every foreign key is indexed or a service query needs them.
-- Improvements on the seed, as PostgreSQL practice asks:
--   * timestamptz instead of timestamp; UUIDv7 primary-key defaults (core.uuidv7) instead of
--     gen_random_uuid(); updated_at maintained by core.touch_updated_at; NOT NULL wherever the seed gives a
--     default (a nullable boolean with a default is a three-valued flag nobody wants).
--   * text with named CHECK (char_length(...) <= n) instead of varchar(n), so a too-long value fails with
--     the constraint's name (squawk prefer-text-field), plus the seed's memories_content_check (<= 50,000).
--   * CHECK constraints for every closed vocabulary in the seed's comments: conversation type, participant
--     role, message status and content type, task status, priority and source, integration provider and
--     status, synced provider, device platform, document status, embedding_status (pending, processing,
--     completed, failed: the seed lists only the default), mention source_type, theme, audit status.
--     Open vocabularies (memory_type, entity_type, relationship_type, ...) get a format CHECK.
--   * relevance_score and strength in [0, 1]; end_time >= start_time; completed_at set exactly when a task
--     is done; an embedding present whenever embedding_status = 'completed'; JSONB objects/arrays typed.
--   * users.email is unique case-insensitively: idx_users_email is UNIQUE on lower(email) (the seed's plain
--     UNIQUE would admit Bob@x and bob@x; its separate idx_users_email on email would duplicate it).
--   * sessions.token_hash is UNIQUE (a hash of a random 256-bit token; tokens themselves are never stored).
--   * integrations.access_token_encrypted / refresh_token_encrypted are bytea: AES-256-GCM ciphertext from
--     src/db/crypto.ts (key id inside, AAD binds it to the integration row). Never plaintext.
--   * Synced rows (gmail_messages, calendar_events, drive_files) reference their integration through
--     (integration_id, user_id), so a synced row can never belong to another user's integration. ON DELETE
--     CASCADE as in the seed.
--   * documents.template_id references document_templates ON DELETE SET NULL (the seed left it loose).
--   * roles and document_templates: UNIQUE (organization_id, name) NULLS NOT DISTINCT; an organisation-less
--     row must be a system row (shared by every organisation).
--   * The gmail full-text index covers coalesce(subject, '') (the seed's subject || ... is NULL, so
--     unsearchable, whenever a mail has no subject).
-- audit_logs: PARTITION BY RANGE ("timestamp") monthly, PRIMARY KEY (id, "timestamp"), append-only through
--   core.make_append_only (UPDATE, DELETE, TRUNCATE fail for every role; `app` has SELECT and INSERT only);
--   partitions for the current month and 3 ahead plus DEFAULT here, `make partitions` keeps them ahead.
--   organization_id and user_id are plain uuid columns WITHOUT the seed's ON DELETE SET NULL foreign keys:
--   deleting a user would have to UPDATE audit rows, which the guard refuses, so the delete would fail; and
--   evidence must keep naming who did what after the user is gone.
-- Tenant isolation (row-level security, FORCEd so the table owner is bound too, except where noted):
--   * the tenant is the organisation: app.tenant_id = organizations.id (workspace.current_org_id()).
--   * organisation-scoped: users, conversations (+ participants and messages through their conversation),
--     tasks, roles, user_roles, document_templates, audit_logs. System roles and templates
--     (organization_id NULL) are readable by every organisation and writable by none through `app`.
--   * private to one user (workspace.current_user_id(): app.user_id, and only if that user belongs to the
--     current organisation): user_preferences, sessions, memories, message_memory_usage, integrations,
--     gmail_messages, calendar_events, drive_files, entities (+ relationships and mentions through them),
--     documents, devices, notifications.
--   * organizations and sessions are ENABLEd but not FORCEd: creating an organisation and resolving a session
--     token happen before there is a tenant, on the owner connection (platform operations, src/workspace).
--   * Foreign-key cascades run as referential actions, which bypass RLS, so deleting a user removes its
--     private rows wherever they are.
-- Semantic search: idx_memories_embedding is HNSW (vector_cosine_ops, m = 16, ef_construction = 64). Build it
--   on a large existing table with maintenance_work_mem >= 512MB (20,000 x 1536: 32 s instead of 105 s).
-- Safety: new schema and tables only; the HNSW index is built on an empty table.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '120s';

CREATE SCHEMA workspace;
COMMENT ON SCHEMA workspace IS 'AI workspace (seed 003): organisations, users, memories with embeddings, messaging, tasks, integrations, knowledge graph, RBAC, documents, devices, audit.';
GRANT USAGE ON SCHEMA workspace TO app;

-- Tenant context ----------------------------------------------------------------------------------------

CREATE FUNCTION workspace.current_org_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT nullif(current_setting('app.tenant_id', true), '')::uuid
$$;
COMMENT ON FUNCTION workspace.current_org_id() IS 'The organisation (tenant) of the current transaction, from SET LOCAL app.tenant_id; NULL when unset.';

-- organizations -----------------------------------------------------------------------------------------

CREATE TABLE workspace.organizations (
  id         uuid PRIMARY KEY DEFAULT core.uuidv7(),
  name       text NOT NULL CONSTRAINT organizations_name_length CHECK (char_length(name) BETWEEN 1 AND 255),
  slug       text CONSTRAINT organizations_slug_key UNIQUE
                  CONSTRAINT organizations_slug_format CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,98}[a-z0-9])?$'),
  plan_type  text NOT NULL DEFAULT 'free' CONSTRAINT organizations_plan_type_format CHECK (plan_type ~ '^[a-z][a-z0-9_]{0,49}$'),
  settings   jsonb NOT NULL DEFAULT '{}'::jsonb CONSTRAINT organizations_settings_object CHECK (jsonb_typeof(settings) = 'object'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE workspace.organizations IS 'Tenants of the workspace. Every organisation-scoped row carries its id; app.tenant_id selects one.';
COMMENT ON COLUMN workspace.organizations.slug IS 'Optional url-safe identity: lower-case letters, digits and inner hyphens, at most 100 chars.';
COMMENT ON COLUMN workspace.organizations.plan_type IS 'Billing plan (free, pro, enterprise, ...): lower-case word.';
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON workspace.organizations FOR EACH ROW EXECUTE FUNCTION core.touch_updated_at();

-- users -------------------------------------------------------------------------------------------------

CREATE TABLE workspace.users (
  id              uuid PRIMARY KEY DEFAULT core.uuidv7(),
  organization_id uuid REFERENCES workspace.organizations (id) ON DELETE SET NULL,
  email           text NOT NULL CONSTRAINT users_email_format CHECK (char_length(email) <= 255 AND email ~ '^[^@\s]+@[^@\s]+$'),
  password_hash   text CONSTRAINT users_password_hash_length CHECK (char_length(password_hash) <= 255),
  display_name    text CONSTRAINT users_display_name_length CHECK (char_length(display_name) <= 255),
  first_name      text CONSTRAINT users_first_name_length CHECK (char_length(first_name) <= 100),
  last_name       text CONSTRAINT users_last_name_length CHECK (char_length(last_name) <= 100),
  avatar_url      text CONSTRAINT users_avatar_url_length CHECK (char_length(avatar_url) <= 500),
  timezone        text NOT NULL DEFAULT 'UTC' CONSTRAINT users_timezone_length CHECK (char_length(timezone) BETWEEN 1 AND 50),
  is_active       boolean NOT NULL DEFAULT true,
  is_verified     boolean NOT NULL DEFAULT false,
  last_login_at   timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE workspace.users IS 'People using the workspace, each in (at most) one organisation. Email is unique case-insensitively.';
COMMENT ON COLUMN workspace.users.organization_id IS 'The user''s organisation; SET NULL when it is deleted (the user then belongs to no tenant).';
COMMENT ON COLUMN workspace.users.password_hash IS 'A password hash (argon2/bcrypt string) made by the auth service; never a password.';
COMMENT ON COLUMN workspace.users.timezone IS 'IANA time zone name for the user''s display, e.g. Europe/Berlin.';
CREATE INDEX idx_users_org ON workspace.users (organization_id);
CREATE UNIQUE INDEX idx_users_email ON workspace.users (lower(email));
COMMENT ON INDEX workspace.idx_users_email IS 'Email is unique ignoring case; lookups use lower(email).';
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON workspace.users FOR EACH ROW EXECUTE FUNCTION core.touch_updated_at();

CREATE FUNCTION workspace.current_user_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  -- Runs with the caller's rights: under RLS `app` sees only users of the current organisation, so a
  -- user id from another organisation (or none) yields NULL and matches no row.
  SELECT u.id FROM workspace.users u
   WHERE u.id = nullif(current_setting('app.user_id', true), '')::uuid
     AND u.organization_id = workspace.current_org_id()
     AND u.is_active
$$;
COMMENT ON FUNCTION workspace.current_user_id() IS 'The acting user (SET LOCAL app.user_id) if it is an active member of the current organisation, else NULL. Policies call it as (SELECT workspace.current_user_id()) so it runs once per query.';

-- user_preferences --------------------------------------------------------------------------------------

CREATE TABLE workspace.user_preferences (
  user_id                  uuid PRIMARY KEY REFERENCES workspace.users (id) ON DELETE CASCADE,
  auto_include_memories    boolean NOT NULL DEFAULT true,
  -- A small per-user setting (1..100): never near 2^31.
  -- squawk-ignore prefer-bigint-over-int
  max_memories_per_request integer NOT NULL DEFAULT 5 CONSTRAINT user_preferences_max_memories_range CHECK (max_memories_per_request BETWEEN 0 AND 100),
  auto_extract_from_chat   boolean NOT NULL DEFAULT false,
  excluded_memory_types    text[] NOT NULL DEFAULT '{}',
  email_notifications      boolean NOT NULL DEFAULT true,
  push_notifications       boolean NOT NULL DEFAULT true,
  theme                    text NOT NULL DEFAULT 'system' CONSTRAINT user_preferences_theme_check CHECK (theme IN ('light', 'dark', 'system')),
  language                 text NOT NULL DEFAULT 'en' CONSTRAINT user_preferences_language_format CHECK (language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$'),
  created_at               timestamptz NOT NULL DEFAULT now(),
  updated_at               timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE workspace.user_preferences IS 'One row of settings per user (memory use, notifications, UI).';
COMMENT ON COLUMN workspace.user_preferences.max_memories_per_request IS 'How many memories the assistant may include in one request (0..100).';
COMMENT ON COLUMN workspace.user_preferences.excluded_memory_types IS 'memory_type values never included automatically.';
COMMENT ON COLUMN workspace.user_preferences.language IS 'BCP 47 language tag, e.g. en or pt-BR.';
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON workspace.user_preferences FOR EACH ROW EXECUTE FUNCTION core.touch_updated_at();

-- sessions ----------------------------------------------------------------------------------------------

CREATE TABLE workspace.sessions (
  id                 uuid PRIMARY KEY DEFAULT core.uuidv7(),
  user_id            uuid NOT NULL REFERENCES workspace.users (id) ON DELETE CASCADE,
  token_hash         text NOT NULL CONSTRAINT sessions_token_hash_format CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  refresh_token_hash text CONSTRAINT sessions_refresh_token_hash_format CHECK (refresh_token_hash ~ '^[0-9a-f]{64}$'),
  ip_address         inet,
  user_agent         text CONSTRAINT sessions_user_agent_length CHECK (char_length(user_agent) <= 1024),
  expires_at         timestamptz NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT sessions_expires_after_created CHECK (expires_at > created_at)
);
COMMENT ON TABLE workspace.sessions IS 'Login sessions. Only SHA-256 hashes of the (random, 256-bit) tokens are stored.';
COMMENT ON COLUMN workspace.sessions.token_hash IS 'Hex SHA-256 of the session token; the token itself is shown to the client once and never stored.';
COMMENT ON COLUMN workspace.sessions.refresh_token_hash IS 'Hex SHA-256 of the refresh token, if one was issued.';
CREATE INDEX idx_sessions_user ON workspace.sessions (user_id);
CREATE UNIQUE INDEX idx_sessions_token ON workspace.sessions (token_hash);
CREATE INDEX idx_sessions_expires ON workspace.sessions (expires_at);

-- memories ----------------------------------------------------------------------------------------------

CREATE TABLE workspace.memories (
  id                   uuid PRIMARY KEY DEFAULT core.uuidv7(),
  user_id              uuid NOT NULL REFERENCES workspace.users (id) ON DELETE CASCADE,
  content              text NOT NULL,
  title                text CONSTRAINT memories_title_length CHECK (char_length(title) <= 500),
  memory_type          text NOT NULL DEFAULT 'note' CONSTRAINT memories_memory_type_format CHECK (memory_type ~ '^[a-z][a-z0-9_]{0,49}$'),
  source               text NOT NULL DEFAULT 'manual' CONSTRAINT memories_source_format CHECK (source ~ '^[a-z][a-z0-9_]{0,49}$'),
  source_id            text CONSTRAINT memories_source_id_length CHECK (char_length(source_id) <= 255),
  tags                 text[] NOT NULL DEFAULT '{}',
  metadata             jsonb NOT NULL DEFAULT '{}'::jsonb CONSTRAINT memories_metadata_object CHECK (jsonb_typeof(metadata) = 'object'),
  embedding            vector(1536),
  embedding_status     text NOT NULL DEFAULT 'pending'
                       CONSTRAINT memories_embedding_status_check CHECK (embedding_status IN ('pending', 'processing', 'completed', 'failed')),
  embedding_model      text CONSTRAINT memories_embedding_model_length CHECK (char_length(embedding_model) <= 100),
  embedding_updated_at timestamptz,
  conversation_id      uuid,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  accessed_at          timestamptz NOT NULL DEFAULT now(),
  deleted_at           timestamptz,
  CONSTRAINT memories_content_check CHECK (char_length(content) <= 50000),
  CONSTRAINT memories_completed_has_embedding CHECK (embedding_status <> 'completed' OR embedding IS NOT NULL)
);
COMMENT ON TABLE workspace.memories IS 'What the assistant remembers for one user (notes, extracts, imported items), with an optional embedding for semantic search. Soft-deleted via deleted_at.';
COMMENT ON COLUMN workspace.memories.memory_type IS 'Kind of memory (note, fact, preference, ...): lower-case word.';
COMMENT ON COLUMN workspace.memories.source IS 'Where it came from (manual, chat, gmail, drive, ...): lower-case word; source_id is the id there.';
COMMENT ON COLUMN workspace.memories.embedding IS '1536-dimensional embedding of content (cosine distance); NULL until computed.';
COMMENT ON COLUMN workspace.memories.embedding_status IS 'pending -> processing -> completed | failed; completed requires an embedding.';
COMMENT ON COLUMN workspace.memories.conversation_id IS 'The conversation the memory was extracted from; SET NULL when it is deleted.';
COMMENT ON COLUMN workspace.memories.accessed_at IS 'Last time the memory was returned to the user or used by the assistant.';
COMMENT ON COLUMN workspace.memories.deleted_at IS 'Soft delete; searches exclude deleted memories.';
CREATE INDEX idx_memories_user ON workspace.memories (user_id);
CREATE INDEX idx_memories_type ON workspace.memories (memory_type);
CREATE INDEX idx_memories_source ON workspace.memories (source);
CREATE INDEX idx_memories_created ON workspace.memories (created_at DESC);
CREATE INDEX idx_memories_tags ON workspace.memories USING gin (tags);
CREATE INDEX idx_memories_metadata ON workspace.memories USING gin (metadata);
CREATE INDEX idx_memories_embedding ON workspace.memories USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);
CREATE INDEX idx_memories_deleted ON workspace.memories (deleted_at) WHERE deleted_at IS NULL;
CREATE INDEX memories_user_live_created_idx ON workspace.memories (user_id, created_at DESC) WHERE deleted_at IS NULL;
CREATE INDEX memories_content_search_idx ON workspace.memories USING gin (to_tsvector('english', coalesce(title, '') || ' ' || content)) WHERE deleted_at IS NULL;
CREATE INDEX memories_conversation_id_idx ON workspace.memories (conversation_id);
COMMENT ON INDEX workspace.idx_memories_embedding IS 'HNSW for top-k cosine search; rebuild with maintenance_work_mem >= 512MB on large tables.';
COMMENT ON INDEX workspace.memories_content_search_idx IS 'Keyword (full-text) search over live memories.';
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON workspace.memories FOR EACH ROW EXECUTE FUNCTION core.touch_updated_at();

-- conversations -----------------------------------------------------------------------------------------

CREATE TABLE workspace.conversations (
  id              uuid PRIMARY KEY DEFAULT core.uuidv7(),
  organization_id uuid REFERENCES workspace.organizations (id) ON DELETE CASCADE,
  type            text NOT NULL DEFAULT 'direct' CONSTRAINT conversations_type_check CHECK (type IN ('direct', 'group', 'ai_chat')),
  name            text CONSTRAINT conversations_name_length CHECK (char_length(name) <= 255),
  description     text CONSTRAINT conversations_description_length CHECK (char_length(description) <= 10000),
  avatar_url      text CONSTRAINT conversations_avatar_url_length CHECK (char_length(avatar_url) <= 500),
  is_private      boolean NOT NULL DEFAULT true,
  created_by      uuid REFERENCES workspace.users (id) ON DELETE SET NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  last_message_at timestamptz,
  deleted_at      timestamptz
);
COMMENT ON TABLE workspace.conversations IS 'Direct, group and AI-chat conversations inside an organisation.';
COMMENT ON COLUMN workspace.conversations.type IS 'direct (two people), group (named, many) or ai_chat (a user with the assistant).';
COMMENT ON COLUMN workspace.conversations.last_message_at IS 'created_at of the newest message, kept by the service when it posts one.';
CREATE INDEX idx_conversations_org ON workspace.conversations (organization_id);
CREATE INDEX idx_conversations_type ON workspace.conversations (type);
CREATE INDEX idx_conversations_created_by ON workspace.conversations (created_by);
CREATE INDEX idx_conversations_last_message ON workspace.conversations (last_message_at DESC);
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON workspace.conversations FOR EACH ROW EXECUTE FUNCTION core.touch_updated_at();

-- A new table in this same migration: no other session can see it, let alone lock it.
-- squawk-ignore adding-foreign-key-constraint
ALTER TABLE workspace.memories
  ADD CONSTRAINT fk_memories_conversation FOREIGN KEY (conversation_id) REFERENCES workspace.conversations (id) ON DELETE SET NULL;

CREATE TABLE workspace.conversation_participants (
  conversation_id uuid NOT NULL REFERENCES workspace.conversations (id) ON DELETE CASCADE,
  user_id         uuid NOT NULL REFERENCES workspace.users (id) ON DELETE CASCADE,
  role            text NOT NULL DEFAULT 'member' CONSTRAINT conversation_participants_role_check CHECK (role IN ('owner', 'admin', 'member')),
  joined_at       timestamptz NOT NULL DEFAULT now(),
  last_read_at    timestamptz,
  is_muted        boolean NOT NULL DEFAULT false,
  PRIMARY KEY (conversation_id, user_id)
);
COMMENT ON TABLE workspace.conversation_participants IS 'Who is in a conversation, with their role and read position.';
COMMENT ON COLUMN workspace.conversation_participants.last_read_at IS 'Messages created after this are unread for the participant; NULL = nothing read.';
CREATE INDEX idx_participants_user ON workspace.conversation_participants (user_id);
CREATE INDEX idx_participants_role ON workspace.conversation_participants (role);

CREATE TABLE workspace.messages (
  id              uuid PRIMARY KEY DEFAULT core.uuidv7(),
  conversation_id uuid NOT NULL REFERENCES workspace.conversations (id) ON DELETE CASCADE,
  sender_id       uuid REFERENCES workspace.users (id) ON DELETE SET NULL,
  content         text NOT NULL CONSTRAINT messages_content_length CHECK (char_length(content) <= 50000),
  content_type    text NOT NULL DEFAULT 'text' CONSTRAINT messages_content_type_check CHECK (content_type IN ('text', 'file', 'system', 'ai')),
  status          text NOT NULL DEFAULT 'sent' CONSTRAINT messages_status_check CHECK (status IN ('sent', 'delivered', 'read')),
  is_edited       boolean NOT NULL DEFAULT false,
  is_ai_response  boolean NOT NULL DEFAULT false,
  ai_model        text CONSTRAINT messages_ai_model_length CHECK (char_length(ai_model) <= 100),
  created_at      timestamptz NOT NULL DEFAULT now(),
  edited_at       timestamptz,
  deleted_at      timestamptz
);
COMMENT ON TABLE workspace.messages IS 'Messages in conversations. A deleted sender leaves the message with sender_id NULL.';
COMMENT ON COLUMN workspace.messages.sender_id IS 'Author; NULL for AI and system messages, and after the author is deleted.';
COMMENT ON COLUMN workspace.messages.ai_model IS 'Model that produced an AI response.';
CREATE INDEX idx_messages_conversation ON workspace.messages (conversation_id, created_at DESC);
CREATE INDEX idx_messages_sender ON workspace.messages (sender_id);
CREATE INDEX idx_messages_content_search ON workspace.messages USING gin (to_tsvector('english', content));

CREATE TABLE workspace.message_memory_usage (
  id              uuid PRIMARY KEY DEFAULT core.uuidv7(),
  message_id      uuid NOT NULL REFERENCES workspace.messages (id) ON DELETE CASCADE,
  memory_id       uuid NOT NULL REFERENCES workspace.memories (id) ON DELETE CASCADE,
  relevance_score double precision CONSTRAINT message_memory_usage_relevance_range CHECK (relevance_score BETWEEN 0 AND 1),
  created_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE workspace.message_memory_usage IS 'Which memories were used to produce a message (RAG tracking), with their relevance.';
COMMENT ON COLUMN workspace.message_memory_usage.relevance_score IS 'Relevance of the memory to the message, 0..1 (e.g. 1 - cosine distance).';
CREATE INDEX idx_message_memory_message ON workspace.message_memory_usage (message_id);
CREATE INDEX idx_message_memory_memory ON workspace.message_memory_usage (memory_id);

-- tasks -------------------------------------------------------------------------------------------------

CREATE TABLE workspace.tasks (
  id              uuid PRIMARY KEY DEFAULT core.uuidv7(),
  user_id         uuid NOT NULL REFERENCES workspace.users (id) ON DELETE CASCADE,
  organization_id uuid REFERENCES workspace.organizations (id) ON DELETE CASCADE,
  title           text NOT NULL CONSTRAINT tasks_title_length CHECK (char_length(title) BETWEEN 1 AND 500),
  description     text CONSTRAINT tasks_description_length CHECK (char_length(description) <= 50000),
  status          text NOT NULL DEFAULT 'todo' CONSTRAINT tasks_status_check CHECK (status IN ('todo', 'in_progress', 'done', 'cancelled')),
  priority        text NOT NULL DEFAULT 'medium' CONSTRAINT tasks_priority_check CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
  due_date        date,
  due_time        time,
  reminder_at     timestamptz,
  completed_at    timestamptz,
  source          text NOT NULL DEFAULT 'manual' CONSTRAINT tasks_source_check CHECK (source IN ('manual', 'ai_created', 'ai_extracted', 'integration')),
  source_id       uuid,
  source_type     text CONSTRAINT tasks_source_type_format CHECK (source_type ~ '^[a-z][a-z0-9_]{0,49}$'),
  project_id      uuid,
  tags            text[] NOT NULL DEFAULT '{}',
  recurrence_rule text CONSTRAINT tasks_recurrence_rule_length CHECK (char_length(recurrence_rule) <= 255),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT tasks_completed_at_iff_done CHECK ((status = 'done') = (completed_at IS NOT NULL)),
  CONSTRAINT tasks_due_time_needs_date CHECK (due_time IS NULL OR due_date IS NOT NULL)
);
COMMENT ON TABLE workspace.tasks IS 'To-dos of a user inside an organisation, created by hand, by the assistant or from integrations.';
COMMENT ON COLUMN workspace.tasks.due_time IS 'Time of day on due_date in the user''s time zone (users.timezone); only with a due_date.';
COMMENT ON COLUMN workspace.tasks.completed_at IS 'When the task was done; set exactly while status = done.';
COMMENT ON COLUMN workspace.tasks.source_id IS 'The conversation, memory, message, ... the task came from (polymorphic: see source_type; no FK).';
COMMENT ON COLUMN workspace.tasks.project_id IS 'Grouping key for a project managed outside this schema (no FK).';
COMMENT ON COLUMN workspace.tasks.recurrence_rule IS 'iCalendar RRULE, e.g. FREQ=WEEKLY;BYDAY=MO.';
CREATE INDEX idx_tasks_user ON workspace.tasks (user_id);
CREATE INDEX idx_tasks_status ON workspace.tasks (status);
CREATE INDEX idx_tasks_due_date ON workspace.tasks (due_date);
CREATE INDEX idx_tasks_priority ON workspace.tasks (priority);
CREATE INDEX tasks_organization_id_idx ON workspace.tasks (organization_id);
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON workspace.tasks FOR EACH ROW EXECUTE FUNCTION core.touch_updated_at();

-- integrations ------------------------------------------------------------------------------------------

CREATE TABLE workspace.integrations (
  id                      uuid PRIMARY KEY DEFAULT core.uuidv7(),
  user_id                 uuid NOT NULL REFERENCES workspace.users (id) ON DELETE CASCADE,
  provider                text NOT NULL CONSTRAINT integrations_provider_check CHECK (provider IN ('google', 'microsoft', 'slack', 'notion')),
  status                  text NOT NULL DEFAULT 'pending' CONSTRAINT integrations_status_check CHECK (status IN ('pending', 'active', 'expired', 'error', 'disconnected')),
  access_token_encrypted  bytea,
  refresh_token_encrypted bytea,
  token_expires_at        timestamptz,
  scopes                  text[] NOT NULL DEFAULT '{}',
  last_sync_at            timestamptz,
  sync_cursor             text CONSTRAINT integrations_sync_cursor_length CHECK (char_length(sync_cursor) <= 4096),
  provider_user_id        text CONSTRAINT integrations_provider_user_id_length CHECK (char_length(provider_user_id) <= 255),
  provider_email          text CONSTRAINT integrations_provider_email_length CHECK (char_length(provider_email) <= 255),
  metadata                jsonb NOT NULL DEFAULT '{}'::jsonb CONSTRAINT integrations_metadata_object CHECK (jsonb_typeof(metadata) = 'object'),
  connected_at            timestamptz,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT integrations_user_id_provider_key UNIQUE (user_id, provider),
  CONSTRAINT integrations_id_user_id_key UNIQUE (id, user_id)
);
COMMENT ON TABLE workspace.integrations IS 'OAuth connections of a user to an outside provider, one per provider; tokens encrypted.';
COMMENT ON COLUMN workspace.integrations.access_token_encrypted IS 'AES-256-GCM ciphertext (key id inside, AAD = this row) of the OAuth access token. Never plaintext.';
COMMENT ON COLUMN workspace.integrations.refresh_token_encrypted IS 'AES-256-GCM ciphertext of the OAuth refresh token. Never plaintext.';
COMMENT ON COLUMN workspace.integrations.sync_cursor IS 'Provider cursor (history id, delta link, page token) for the next incremental sync.';
COMMENT ON CONSTRAINT integrations_id_user_id_key ON workspace.integrations IS 'Target of the synced tables'' (integration_id, user_id) foreign keys.';
CREATE INDEX idx_integrations_user ON workspace.integrations (user_id);
CREATE INDEX idx_integrations_provider ON workspace.integrations (provider);
CREATE INDEX idx_integrations_status ON workspace.integrations (status);
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON workspace.integrations FOR EACH ROW EXECUTE FUNCTION core.touch_updated_at();

CREATE TABLE workspace.gmail_messages (
  id             uuid PRIMARY KEY DEFAULT core.uuidv7(),
  user_id        uuid NOT NULL REFERENCES workspace.users (id) ON DELETE CASCADE,
  integration_id uuid NOT NULL,
  gmail_id       text NOT NULL CONSTRAINT gmail_messages_gmail_id_length CHECK (char_length(gmail_id) BETWEEN 1 AND 255),
  thread_id      text CONSTRAINT gmail_messages_thread_id_length CHECK (char_length(thread_id) <= 255),
  subject        text,
  from_email     text CONSTRAINT gmail_messages_from_email_length CHECK (char_length(from_email) <= 255),
  to_emails      text[] NOT NULL DEFAULT '{}',
  snippet        text,
  body_text      text,
  labels         text[] NOT NULL DEFAULT '{}',
  is_read        boolean NOT NULL DEFAULT false,
  received_at    timestamptz,
  synced_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT gmail_messages_user_id_gmail_id_key UNIQUE (user_id, gmail_id),
  CONSTRAINT gmail_messages_integration_fk FOREIGN KEY (integration_id, user_id)
    REFERENCES workspace.integrations (id, user_id) ON DELETE CASCADE
);
COMMENT ON TABLE workspace.gmail_messages IS 'Mail synced from Gmail; a re-sync upserts on (user_id, gmail_id).';
COMMENT ON COLUMN workspace.gmail_messages.gmail_id IS 'Gmail''s message id; unique per user.';
CREATE INDEX idx_gmail_user ON workspace.gmail_messages (user_id);
CREATE INDEX idx_gmail_received ON workspace.gmail_messages (received_at DESC);
CREATE INDEX idx_gmail_search ON workspace.gmail_messages USING gin (to_tsvector('english', coalesce(subject, '') || ' ' || coalesce(body_text, '')));
CREATE INDEX gmail_messages_integration_id_idx ON workspace.gmail_messages (integration_id, user_id);

CREATE TABLE workspace.calendar_events (
  id                 uuid PRIMARY KEY DEFAULT core.uuidv7(),
  user_id            uuid NOT NULL REFERENCES workspace.users (id) ON DELETE CASCADE,
  integration_id     uuid NOT NULL,
  provider           text NOT NULL CONSTRAINT calendar_events_provider_check CHECK (provider IN ('google', 'microsoft')),
  provider_event_id  text NOT NULL CONSTRAINT calendar_events_provider_event_id_length CHECK (char_length(provider_event_id) BETWEEN 1 AND 255),
  calendar_id        text CONSTRAINT calendar_events_calendar_id_length CHECK (char_length(calendar_id) <= 255),
  title              text CONSTRAINT calendar_events_title_length CHECK (char_length(title) <= 500),
  description        text,
  location           text,
  start_time         timestamptz NOT NULL,
  end_time           timestamptz NOT NULL,
  is_all_day         boolean NOT NULL DEFAULT false,
  timezone           text CONSTRAINT calendar_events_timezone_length CHECK (char_length(timezone) <= 50),
  attendees          jsonb NOT NULL DEFAULT '[]'::jsonb CONSTRAINT calendar_events_attendees_array CHECK (jsonb_typeof(attendees) = 'array'),
  is_online_meeting  boolean NOT NULL DEFAULT false,
  online_meeting_url text,
  recurrence_rule    text CONSTRAINT calendar_events_recurrence_rule_length CHECK (char_length(recurrence_rule) <= 255),
  synced_at          timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT calendar_events_user_id_provider_provider_event_id_key UNIQUE (user_id, provider, provider_event_id),
  CONSTRAINT calendar_events_end_after_start CHECK (end_time >= start_time),
  CONSTRAINT calendar_events_integration_fk FOREIGN KEY (integration_id, user_id)
    REFERENCES workspace.integrations (id, user_id) ON DELETE CASCADE
);
COMMENT ON TABLE workspace.calendar_events IS 'Events synced from Google or Microsoft calendars; a re-sync upserts on (user_id, provider, provider_event_id).';
COMMENT ON COLUMN workspace.calendar_events.attendees IS 'JSON array of attendees as the provider returns them ({email, name, response}).';
CREATE INDEX idx_calendar_user ON workspace.calendar_events (user_id);
CREATE INDEX idx_calendar_time ON workspace.calendar_events (start_time, end_time);
CREATE INDEX calendar_events_integration_id_idx ON workspace.calendar_events (integration_id, user_id);

CREATE TABLE workspace.drive_files (
  id               uuid PRIMARY KEY DEFAULT core.uuidv7(),
  user_id          uuid NOT NULL REFERENCES workspace.users (id) ON DELETE CASCADE,
  integration_id   uuid NOT NULL,
  provider         text NOT NULL CONSTRAINT drive_files_provider_check CHECK (provider IN ('google', 'microsoft')),
  provider_file_id text NOT NULL CONSTRAINT drive_files_provider_file_id_length CHECK (char_length(provider_file_id) BETWEEN 1 AND 255),
  name             text NOT NULL CONSTRAINT drive_files_name_length CHECK (char_length(name) BETWEEN 1 AND 500),
  mime_type        text CONSTRAINT drive_files_mime_type_length CHECK (char_length(mime_type) <= 255),
  size_bytes       bigint CONSTRAINT drive_files_size_bytes_nonnegative CHECK (size_bytes >= 0),
  web_url          text,
  parent_path      text,
  modified_at      timestamptz,
  synced_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT drive_files_user_id_provider_provider_file_id_key UNIQUE (user_id, provider, provider_file_id),
  CONSTRAINT drive_files_integration_fk FOREIGN KEY (integration_id, user_id)
    REFERENCES workspace.integrations (id, user_id) ON DELETE CASCADE
);
COMMENT ON TABLE workspace.drive_files IS 'File metadata synced from Google Drive or OneDrive; a re-sync upserts on (user_id, provider, provider_file_id).';
CREATE INDEX idx_drive_user ON workspace.drive_files (user_id);
CREATE INDEX idx_drive_name ON workspace.drive_files (name);
CREATE INDEX drive_files_integration_id_idx ON workspace.drive_files (integration_id, user_id);

-- knowledge graph ---------------------------------------------------------------------------------------

CREATE TABLE workspace.entities (
  id            uuid PRIMARY KEY DEFAULT core.uuidv7(),
  user_id       uuid NOT NULL REFERENCES workspace.users (id) ON DELETE CASCADE,
  entity_type   text NOT NULL CONSTRAINT entities_entity_type_format CHECK (entity_type ~ '^[a-z][a-z0-9_]{0,49}$'),
  name          text NOT NULL CONSTRAINT entities_name_length CHECK (char_length(name) BETWEEN 1 AND 255),
  aliases       text[] NOT NULL DEFAULT '{}',
  description   text,
  metadata      jsonb NOT NULL DEFAULT '{}'::jsonb CONSTRAINT entities_metadata_object CHECK (jsonb_typeof(metadata) = 'object'),
  -- A per-row count of mentions: never near 2^31.
  -- squawk-ignore prefer-bigint-over-int
  mention_count integer NOT NULL DEFAULT 1 CONSTRAINT entities_mention_count_positive CHECK (mention_count >= 1),
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT entities_user_id_entity_type_name_key UNIQUE (user_id, entity_type, name),
  CONSTRAINT entities_seen_order CHECK (last_seen_at >= first_seen_at)
);
COMMENT ON TABLE workspace.entities IS 'Knowledge-graph nodes extracted from a user''s content: people, organisations, projects, places, ...';
COMMENT ON COLUMN workspace.entities.entity_type IS 'person, organization, project, location, ...: lower-case word.';
COMMENT ON COLUMN workspace.entities.mention_count IS 'How many times the entity was seen; the upsert increments it.';
CREATE INDEX idx_entities_user ON workspace.entities (user_id);
CREATE INDEX idx_entities_type ON workspace.entities (entity_type);
CREATE INDEX idx_entities_name ON workspace.entities (name);

CREATE TABLE workspace.entity_relationships (
  id                uuid PRIMARY KEY DEFAULT core.uuidv7(),
  source_entity_id  uuid NOT NULL REFERENCES workspace.entities (id) ON DELETE CASCADE,
  target_entity_id  uuid NOT NULL REFERENCES workspace.entities (id) ON DELETE CASCADE,
  relationship_type text NOT NULL CONSTRAINT entity_relationships_type_format CHECK (relationship_type ~ '^[a-z][a-z0-9_]{0,49}$'),
  strength          double precision NOT NULL DEFAULT 0.5 CONSTRAINT entity_relationships_strength_range CHECK (strength BETWEEN 0 AND 1),
  context           text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT entity_relationships_not_self CHECK (source_entity_id <> target_entity_id)
);
COMMENT ON TABLE workspace.entity_relationships IS 'Directed, typed edges between two entities of the same user.';
COMMENT ON COLUMN workspace.entity_relationships.relationship_type IS 'works_at, knows, manages, part_of, ...: lower-case word.';
COMMENT ON COLUMN workspace.entity_relationships.strength IS 'Confidence in the relationship, 0..1.';
CREATE INDEX idx_entity_rel_source ON workspace.entity_relationships (source_entity_id);
CREATE INDEX idx_entity_rel_target ON workspace.entity_relationships (target_entity_id);

CREATE TABLE workspace.entity_mentions (
  id          uuid PRIMARY KEY DEFAULT core.uuidv7(),
  entity_id   uuid NOT NULL REFERENCES workspace.entities (id) ON DELETE CASCADE,
  source_type text NOT NULL CONSTRAINT entity_mentions_source_type_check CHECK (source_type IN ('memory', 'message', 'email', 'file')),
  source_id   uuid NOT NULL,
  context     text,
  -- A character offset inside one document: never near 2^31.
  -- squawk-ignore prefer-bigint-over-int
  position    integer CONSTRAINT entity_mentions_position_nonnegative CHECK (position >= 0),
  created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE workspace.entity_mentions IS 'Where an entity was mentioned: a memory, message, email or file (polymorphic source_id, no FK).';
COMMENT ON COLUMN workspace.entity_mentions.position IS 'Character offset of the mention in the source text.';
CREATE INDEX idx_entity_mentions_entity ON workspace.entity_mentions (entity_id);
CREATE INDEX idx_entity_mentions_source ON workspace.entity_mentions (source_type, source_id);

-- RBAC --------------------------------------------------------------------------------------------------

CREATE TABLE workspace.roles (
  id              uuid PRIMARY KEY DEFAULT core.uuidv7(),
  organization_id uuid REFERENCES workspace.organizations (id) ON DELETE CASCADE,
  name            text NOT NULL CONSTRAINT roles_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
  description     text,
  is_system       boolean NOT NULL DEFAULT false,
  permissions     text[] NOT NULL DEFAULT '{}'
                  CONSTRAINT roles_permissions_format CHECK (array_to_string(permissions, ' ', '<null>') ~ '^([a-z][a-z_]*:([a-z][a-z_]*|\*)( |$))*$'),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT roles_global_are_system CHECK (organization_id IS NOT NULL OR is_system)
);
COMMENT ON TABLE workspace.roles IS 'Named permission sets. organization_id NULL = a system role every organisation can grant.';
COMMENT ON COLUMN workspace.roles.permissions IS 'Permissions as resource:action (memories:read, tasks:write, ...); resource:* grants every action on the resource.';
CREATE INDEX idx_roles_org ON workspace.roles (organization_id);
CREATE UNIQUE INDEX roles_organization_id_name_key ON workspace.roles (organization_id, name) NULLS NOT DISTINCT;
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON workspace.roles FOR EACH ROW EXECUTE FUNCTION core.touch_updated_at();

CREATE TABLE workspace.user_roles (
  user_id         uuid NOT NULL REFERENCES workspace.users (id) ON DELETE CASCADE,
  role_id         uuid NOT NULL REFERENCES workspace.roles (id) ON DELETE CASCADE,
  organization_id uuid REFERENCES workspace.organizations (id) ON DELETE CASCADE,
  granted_by      uuid REFERENCES workspace.users (id) ON DELETE SET NULL,
  granted_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz,
  PRIMARY KEY (user_id, role_id),
  CONSTRAINT user_roles_expires_after_granted CHECK (expires_at IS NULL OR expires_at > granted_at)
);
COMMENT ON TABLE workspace.user_roles IS 'Role grants to users inside an organisation, optionally expiring.';
COMMENT ON COLUMN workspace.user_roles.expires_at IS 'The grant stops counting at this instant; NULL = no expiry.';
CREATE INDEX idx_user_roles_user ON workspace.user_roles (user_id);
CREATE INDEX idx_user_roles_role ON workspace.user_roles (role_id);
CREATE INDEX user_roles_organization_id_idx ON workspace.user_roles (organization_id);
CREATE INDEX user_roles_granted_by_idx ON workspace.user_roles (granted_by);

-- audit_logs --------------------------------------------------------------------------------------------

CREATE TABLE workspace.audit_logs (
  id              uuid NOT NULL DEFAULT core.uuidv7(),
  organization_id uuid,
  user_id         uuid,
  action          text NOT NULL CONSTRAINT audit_logs_action_format CHECK (action ~ '^[a-z][a-z_]*\.[a-z][a-z_]*$' AND char_length(action) <= 100),
  resource_type   text CONSTRAINT audit_logs_resource_type_format CHECK (resource_type ~ '^[a-z][a-z_]{0,49}$'),
  resource_id     text CONSTRAINT audit_logs_resource_id_length CHECK (char_length(resource_id) <= 255),
  ip_address      inet,
  user_agent      text CONSTRAINT audit_logs_user_agent_length CHECK (char_length(user_agent) <= 1024),
  session_id      uuid,
  old_value       jsonb,
  new_value       jsonb,
  status          text NOT NULL DEFAULT 'success' CONSTRAINT audit_logs_status_check CHECK (status IN ('success', 'failure')),
  error_message   text,
  metadata        jsonb NOT NULL DEFAULT '{}'::jsonb CONSTRAINT audit_logs_metadata_object CHECK (jsonb_typeof(metadata) = 'object'),
  timestamp       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, timestamp),
  CONSTRAINT audit_logs_error_iff_failure CHECK ((status = 'failure') = (error_message IS NOT NULL))
) PARTITION BY RANGE (timestamp);
COMMENT ON TABLE workspace.audit_logs IS 'Append-only audit trail per organisation, monthly partitions. No FKs: rows outlive the users and organisations they name.';
COMMENT ON COLUMN workspace.audit_logs.organization_id IS 'The organisation (tenant) the event belongs to; plain uuid, deliberately not a FK.';
COMMENT ON COLUMN workspace.audit_logs.user_id IS 'Who acted; NULL for the system. Plain uuid, deliberately not a FK.';
COMMENT ON COLUMN workspace.audit_logs.action IS 'What happened, as <resource>.<verb>: memory.created, task.completed, role.granted, ...';
COMMENT ON COLUMN workspace.audit_logs.old_value IS 'The changed fields before (never secrets or tokens).';
COMMENT ON COLUMN workspace.audit_logs.new_value IS 'The changed fields after (never secrets or tokens).';
COMMENT ON COLUMN workspace.audit_logs.timestamp IS 'When it happened; the partition key.';
CREATE INDEX idx_audit_org ON workspace.audit_logs (organization_id);
CREATE INDEX idx_audit_user ON workspace.audit_logs (user_id);
CREATE INDEX idx_audit_action ON workspace.audit_logs (action);
CREATE INDEX idx_audit_timestamp ON workspace.audit_logs (timestamp DESC);
CREATE INDEX idx_audit_resource ON workspace.audit_logs (resource_type, resource_id);
CREATE INDEX audit_logs_org_timestamp_idx ON workspace.audit_logs (organization_id, timestamp DESC);
SELECT core.make_append_only('workspace.audit_logs');
SELECT count(*) FROM core.ensure_monthly_partitions('workspace.audit_logs', 3);

-- documents ---------------------------------------------------------------------------------------------

CREATE TABLE workspace.document_templates (
  id              uuid PRIMARY KEY DEFAULT core.uuidv7(),
  organization_id uuid REFERENCES workspace.organizations (id) ON DELETE CASCADE,
  name            text NOT NULL CONSTRAINT document_templates_name_length CHECK (char_length(name) BETWEEN 1 AND 255),
  document_type   text NOT NULL CONSTRAINT document_templates_document_type_format CHECK (document_type ~ '^[a-z][a-z0-9_]{0,49}$'),
  outline         text[] NOT NULL DEFAULT '{}',
  instructions    text,
  is_system       boolean NOT NULL DEFAULT false,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT document_templates_global_are_system CHECK (organization_id IS NOT NULL OR is_system)
);
COMMENT ON TABLE workspace.document_templates IS 'Outlines and instructions for generating documents. organization_id NULL = a system template for everyone.';
COMMENT ON COLUMN workspace.document_templates.document_type IS 'report, proposal, memo, ...: lower-case word.';
CREATE INDEX idx_templates_org ON workspace.document_templates (organization_id);
CREATE INDEX idx_templates_type ON workspace.document_templates (document_type);
CREATE UNIQUE INDEX document_templates_organization_id_name_key ON workspace.document_templates (organization_id, name) NULLS NOT DISTINCT;
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON workspace.document_templates FOR EACH ROW EXECUTE FUNCTION core.touch_updated_at();

CREATE TABLE workspace.documents (
  id                 uuid PRIMARY KEY DEFAULT core.uuidv7(),
  user_id            uuid NOT NULL REFERENCES workspace.users (id) ON DELETE CASCADE,
  document_type      text NOT NULL CONSTRAINT documents_document_type_format CHECK (document_type ~ '^[a-z][a-z0-9_]{0,49}$'),
  title              text NOT NULL CONSTRAINT documents_title_length CHECK (char_length(title) BETWEEN 1 AND 500),
  content            text,
  outline            text[] NOT NULL DEFAULT '{}',
  template_id        uuid REFERENCES workspace.document_templates (id) ON DELETE SET NULL,
  status             text NOT NULL DEFAULT 'draft' CONSTRAINT documents_status_check CHECK (status IN ('draft', 'generating', 'ready', 'exported')),
  context_memory_ids uuid[] NOT NULL DEFAULT '{}',
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE workspace.documents IS 'Documents a user generates from a template and their memories.';
COMMENT ON COLUMN workspace.documents.status IS 'draft -> generating -> ready -> exported.';
COMMENT ON COLUMN workspace.documents.context_memory_ids IS 'Memories used as context when generating (ids; not FKs, so a deleted memory leaves a dangling id).';
CREATE INDEX idx_documents_user ON workspace.documents (user_id);
CREATE INDEX idx_documents_type ON workspace.documents (document_type);
CREATE INDEX documents_template_id_idx ON workspace.documents (template_id);
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON workspace.documents FOR EACH ROW EXECUTE FUNCTION core.touch_updated_at();

-- devices and notifications -----------------------------------------------------------------------------

CREATE TABLE workspace.devices (
  id           uuid PRIMARY KEY DEFAULT core.uuidv7(),
  user_id      uuid NOT NULL REFERENCES workspace.users (id) ON DELETE CASCADE,
  device_token text NOT NULL CONSTRAINT devices_device_token_length CHECK (char_length(device_token) BETWEEN 1 AND 4096),
  platform     text NOT NULL CONSTRAINT devices_platform_check CHECK (platform IN ('ios', 'android', 'web')),
  device_name  text CONSTRAINT devices_device_name_length CHECK (char_length(device_name) <= 255),
  is_active    boolean NOT NULL DEFAULT true,
  last_used_at timestamptz NOT NULL DEFAULT now(),
  created_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT devices_user_id_device_token_key UNIQUE (user_id, device_token)
);
COMMENT ON TABLE workspace.devices IS 'Devices registered for push notifications; deactivated, not deleted, when a token stops working.';
COMMENT ON COLUMN workspace.devices.device_token IS 'Push token from APNs/FCM/Web Push.';
CREATE INDEX idx_devices_user ON workspace.devices (user_id);
CREATE INDEX idx_devices_active ON workspace.devices (is_active) WHERE is_active = true;

CREATE TABLE workspace.notifications (
  id            uuid PRIMARY KEY DEFAULT core.uuidv7(),
  user_id       uuid NOT NULL REFERENCES workspace.users (id) ON DELETE CASCADE,
  type          text NOT NULL CONSTRAINT notifications_type_format CHECK (type ~ '^[a-z][a-z0-9_.]{0,49}$'),
  title         text CONSTRAINT notifications_title_length CHECK (char_length(title) <= 255),
  body          text,
  data          jsonb NOT NULL DEFAULT '{}'::jsonb CONSTRAINT notifications_data_object CHECK (jsonb_typeof(data) = 'object'),
  is_read       boolean NOT NULL DEFAULT false,
  read_at       timestamptz,
  resource_type text CONSTRAINT notifications_resource_type_format CHECK (resource_type ~ '^[a-z][a-z0-9_]{0,49}$'),
  resource_id   uuid,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT notifications_read_at_iff_read CHECK (is_read = (read_at IS NOT NULL))
);
COMMENT ON TABLE workspace.notifications IS 'In-app notifications for one user.';
COMMENT ON COLUMN workspace.notifications.type IS 'What it is about (task.due, message.new, ...).';
COMMENT ON COLUMN workspace.notifications.resource_id IS 'The task, message, ... it points to (polymorphic via resource_type; no FK).';
CREATE INDEX idx_notifications_user ON workspace.notifications (user_id);
CREATE INDEX idx_notifications_unread ON workspace.notifications (user_id, is_read) WHERE is_read = false;
CREATE INDEX idx_notifications_created ON workspace.notifications (created_at DESC);

-- Row-level security ------------------------------------------------------------------------------------
-- Organisation-scoped: the row's organisation is the current one.

ALTER TABLE workspace.organizations ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_organization ON workspace.organizations USING (id = workspace.current_org_id());

ALTER TABLE workspace.users ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY organization_members ON workspace.users
  USING (organization_id = workspace.current_org_id()) WITH CHECK (organization_id = workspace.current_org_id());

ALTER TABLE workspace.conversations ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON workspace.conversations
  USING (organization_id = workspace.current_org_id()) WITH CHECK (organization_id = workspace.current_org_id());

-- Participants and messages belong to a conversation the current organisation can see (policy above);
-- participants must be members of the organisation, and a message's sender is the acting user or NULL.
ALTER TABLE workspace.conversation_participants ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY conversation_rows ON workspace.conversation_participants
  USING (EXISTS (SELECT FROM workspace.conversations c WHERE c.id = conversation_id))
  WITH CHECK (EXISTS (SELECT FROM workspace.conversations c WHERE c.id = conversation_id)
              AND EXISTS (SELECT FROM workspace.users u WHERE u.id = user_id));

ALTER TABLE workspace.messages ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY conversation_rows ON workspace.messages
  USING (EXISTS (SELECT FROM workspace.conversations c WHERE c.id = conversation_id));
CREATE POLICY sender_is_actor ON workspace.messages AS RESTRICTIVE FOR INSERT
  WITH CHECK (sender_id IS NULL OR sender_id = (SELECT workspace.current_user_id()));

ALTER TABLE workspace.tasks ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON workspace.tasks
  USING (organization_id = workspace.current_org_id())
  WITH CHECK (organization_id = workspace.current_org_id() AND EXISTS (SELECT FROM workspace.users u WHERE u.id = user_id));

-- Roles and templates: the organisation's own rows plus the shared system rows (read-only for `app`).
ALTER TABLE workspace.roles ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY read_own_and_system ON workspace.roles FOR SELECT
  USING (organization_id = workspace.current_org_id() OR organization_id IS NULL);
CREATE POLICY write_own ON workspace.roles
  USING (organization_id = workspace.current_org_id()) WITH CHECK (organization_id = workspace.current_org_id());

ALTER TABLE workspace.user_roles ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON workspace.user_roles
  USING (organization_id = workspace.current_org_id())
  WITH CHECK (organization_id = workspace.current_org_id()
              AND EXISTS (SELECT FROM workspace.users u WHERE u.id = user_id)
              AND EXISTS (SELECT FROM workspace.roles r WHERE r.id = role_id));

ALTER TABLE workspace.document_templates ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY read_own_and_system ON workspace.document_templates FOR SELECT
  USING (organization_id = workspace.current_org_id() OR organization_id IS NULL);
CREATE POLICY write_own ON workspace.document_templates
  USING (organization_id = workspace.current_org_id()) WITH CHECK (organization_id = workspace.current_org_id());

ALTER TABLE workspace.audit_logs ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON workspace.audit_logs
  USING (organization_id = workspace.current_org_id()) WITH CHECK (organization_id = workspace.current_org_id());

-- Private to the acting user.
ALTER TABLE workspace.user_preferences ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON workspace.user_preferences USING (user_id = (SELECT workspace.current_user_id()));

ALTER TABLE workspace.sessions ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON workspace.sessions USING (user_id = (SELECT workspace.current_user_id()));

ALTER TABLE workspace.memories ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON workspace.memories USING (user_id = (SELECT workspace.current_user_id()));

ALTER TABLE workspace.message_memory_usage ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY own_memory_in_visible_message ON workspace.message_memory_usage
  USING (EXISTS (SELECT FROM workspace.memories m WHERE m.id = memory_id)
         AND EXISTS (SELECT FROM workspace.messages g WHERE g.id = message_id));

ALTER TABLE workspace.integrations ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON workspace.integrations USING (user_id = (SELECT workspace.current_user_id()));
ALTER TABLE workspace.gmail_messages ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON workspace.gmail_messages USING (user_id = (SELECT workspace.current_user_id()));
ALTER TABLE workspace.calendar_events ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON workspace.calendar_events USING (user_id = (SELECT workspace.current_user_id()));
ALTER TABLE workspace.drive_files ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON workspace.drive_files USING (user_id = (SELECT workspace.current_user_id()));

ALTER TABLE workspace.entities ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON workspace.entities USING (user_id = (SELECT workspace.current_user_id()));
ALTER TABLE workspace.entity_relationships ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY own_entities ON workspace.entity_relationships
  USING (EXISTS (SELECT FROM workspace.entities e WHERE e.id = source_entity_id)
         AND EXISTS (SELECT FROM workspace.entities e WHERE e.id = target_entity_id));
ALTER TABLE workspace.entity_mentions ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY own_entities ON workspace.entity_mentions USING (EXISTS (SELECT FROM workspace.entities e WHERE e.id = entity_id));

ALTER TABLE workspace.documents ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON workspace.documents USING (user_id = (SELECT workspace.current_user_id()));
ALTER TABLE workspace.devices ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON workspace.devices USING (user_id = (SELECT workspace.current_user_id()));
ALTER TABLE workspace.notifications ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON workspace.notifications USING (user_id = (SELECT workspace.current_user_id()));

-- Grants to the application role ------------------------------------------------------------------------
-- RLS decides which rows; these decide which statements. audit_logs: SELECT and INSERT only.

GRANT SELECT ON workspace.organizations TO app;
GRANT SELECT, INSERT, DELETE ON workspace.users TO app;
GRANT UPDATE (display_name, first_name, last_name, avatar_url, timezone, is_active, is_verified, last_login_at, password_hash)
  ON workspace.users TO app;
GRANT SELECT, INSERT, UPDATE, DELETE ON
  workspace.user_preferences, workspace.sessions, workspace.memories, workspace.conversations,
  workspace.conversation_participants, workspace.messages, workspace.message_memory_usage, workspace.tasks,
  workspace.integrations, workspace.gmail_messages, workspace.calendar_events, workspace.drive_files,
  workspace.entities, workspace.entity_relationships, workspace.entity_mentions, workspace.roles,
  workspace.user_roles, workspace.documents, workspace.document_templates, workspace.devices,
  workspace.notifications
  TO app;
GRANT SELECT, INSERT ON workspace.audit_logs TO app;

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Down section: drops the schema this migration created, with every table, function and policy in it.
-- squawk-ignore ban-drop-table
DROP SCHEMA workspace CASCADE;
