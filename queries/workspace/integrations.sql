/* Integrations and synced rows (private to one user). Re-syncs are idempotent upserts on the seed's UNIQUE
   keys; rows arrive as one JSON array (jsonb_to_recordset), so a batch is one statement whatever its size. */

/* @name UpsertIntegration */
-- Connecting again replaces the tokens and scopes of the user's integration with that provider.
INSERT INTO workspace.integrations AS i
  (user_id, provider, status, access_token_encrypted, refresh_token_encrypted, token_expires_at, scopes,
   provider_user_id, provider_email, metadata, connected_at)
VALUES
  (:userId!, :provider!, 'active', :accessTokenEncrypted!, :refreshTokenEncrypted, :tokenExpiresAt, coalesce(:scopes::text[], '{}'),
   :providerUserId, :providerEmail, coalesce(:metadata::jsonb, '{}'::jsonb), now())
ON CONFLICT (user_id, provider) DO UPDATE SET
  status = 'active', access_token_encrypted = excluded.access_token_encrypted,
  refresh_token_encrypted = excluded.refresh_token_encrypted, token_expires_at = excluded.token_expires_at,
  scopes = excluded.scopes, provider_user_id = excluded.provider_user_id, provider_email = excluded.provider_email,
  metadata = excluded.metadata, connected_at = now()
RETURNING *;

/* @name GetIntegration */
SELECT * FROM workspace.integrations WHERE id = :id!;

/* @name IntegrationForProvider */
SELECT * FROM workspace.integrations WHERE user_id = :userId! AND provider = :provider!;

/* @name SetIntegrationStatus */
-- Disconnecting wipes both tokens and their expiry in the same statement (CHECK integrations_disconnected_without_tokens).
UPDATE workspace.integrations
   SET status = :status!,
       access_token_encrypted = CASE WHEN :status! = 'disconnected' THEN NULL ELSE access_token_encrypted END,
       refresh_token_encrypted = CASE WHEN :status! = 'disconnected' THEN NULL ELSE refresh_token_encrypted END,
       token_expires_at = CASE WHEN :status! = 'disconnected' THEN NULL ELSE token_expires_at END
 WHERE id = :id!
RETURNING *;

/* @name MarkSynced */
UPDATE workspace.integrations SET sync_cursor = :syncCursor, last_sync_at = now() WHERE id = :id! RETURNING *;

/* @name UpsertGmailMessages */
-- Rows: [{gmail_id, thread_id, subject, from_email, to_emails, snippet, body_text, labels, is_read, received_at}].
-- The user comes from the integration (RLS: only the acting user's); returns one row per input row.
INSERT INTO workspace.gmail_messages AS g
  (user_id, integration_id, gmail_id, thread_id, subject, from_email, to_emails, snippet, body_text, labels, is_read, received_at)
SELECT i.user_id, i.id, r.gmail_id, r.thread_id, r.subject, r.from_email, coalesce(r.to_emails, '{}'), r.snippet, r.body_text,
       coalesce(r.labels, '{}'), coalesce(r.is_read, false), r.received_at
  FROM workspace.integrations i,
       jsonb_to_recordset(:rows!::jsonb) AS r(gmail_id text, thread_id text, subject text, from_email text, to_emails text[],
                                              snippet text, body_text text, labels text[], is_read boolean, received_at timestamptz)
 WHERE i.id = :integrationId!
ON CONFLICT (user_id, gmail_id) DO UPDATE SET
  thread_id = excluded.thread_id, subject = excluded.subject, from_email = excluded.from_email, to_emails = excluded.to_emails,
  snippet = excluded.snippet, body_text = excluded.body_text, labels = excluded.labels, is_read = excluded.is_read,
  received_at = excluded.received_at, synced_at = now()
RETURNING g.id, g.gmail_id, (xmax = 0) AS "inserted!";

/* @name UpsertCalendarEvents */
-- Rows: [{provider_event_id, calendar_id, title, description, location, start_time, end_time, is_all_day, timezone,
--         attendees, is_online_meeting, online_meeting_url, recurrence_rule}]; provider from the integration.
INSERT INTO workspace.calendar_events AS e
  (user_id, integration_id, provider, provider_event_id, calendar_id, title, description, location, start_time, end_time,
   is_all_day, timezone, attendees, is_online_meeting, online_meeting_url, recurrence_rule)
SELECT i.user_id, i.id, i.provider, r.provider_event_id, r.calendar_id, r.title, r.description, r.location, r.start_time, r.end_time,
       coalesce(r.is_all_day, false), r.timezone, coalesce(r.attendees, '[]'), coalesce(r.is_online_meeting, false),
       r.online_meeting_url, r.recurrence_rule
  FROM workspace.integrations i,
       jsonb_to_recordset(:rows!::jsonb) AS r(provider_event_id text, calendar_id text, title text, description text, location text,
                                              start_time timestamptz, end_time timestamptz, is_all_day boolean, timezone text,
                                              attendees jsonb, is_online_meeting boolean, online_meeting_url text, recurrence_rule text)
 WHERE i.id = :integrationId!
ON CONFLICT (user_id, provider, provider_event_id) DO UPDATE SET
  calendar_id = excluded.calendar_id, title = excluded.title, description = excluded.description, location = excluded.location,
  start_time = excluded.start_time, end_time = excluded.end_time, is_all_day = excluded.is_all_day, timezone = excluded.timezone,
  attendees = excluded.attendees, is_online_meeting = excluded.is_online_meeting, online_meeting_url = excluded.online_meeting_url,
  recurrence_rule = excluded.recurrence_rule, synced_at = now()
RETURNING e.id, e.provider_event_id, (xmax = 0) AS "inserted!";

/* @name UpsertDriveFiles */
-- Rows: [{provider_file_id, name, mime_type, size_bytes, web_url, parent_path, modified_at}]; provider from the integration.
INSERT INTO workspace.drive_files AS f
  (user_id, integration_id, provider, provider_file_id, name, mime_type, size_bytes, web_url, parent_path, modified_at)
SELECT i.user_id, i.id, i.provider, r.provider_file_id, r.name, r.mime_type, r.size_bytes, r.web_url, r.parent_path, r.modified_at
  FROM workspace.integrations i,
       jsonb_to_recordset(:rows!::jsonb) AS r(provider_file_id text, name text, mime_type text, size_bytes bigint, web_url text,
                                              parent_path text, modified_at timestamptz)
 WHERE i.id = :integrationId!
ON CONFLICT (user_id, provider, provider_file_id) DO UPDATE SET
  name = excluded.name, mime_type = excluded.mime_type, size_bytes = excluded.size_bytes, web_url = excluded.web_url,
  parent_path = excluded.parent_path, modified_at = excluded.modified_at, synced_at = now()
RETURNING f.id, f.provider_file_id, (xmax = 0) AS "inserted!";

/* @name SearchGmail */
-- Full-text search over the user's synced mail (idx_gmail_search: subject and the first 100,000 characters
-- of the body, the index's exact expression), best rank first.
SELECT id, gmail_id, subject, from_email, snippet, received_at,
       ts_rank(to_tsvector('english', coalesce(subject, '') || ' ' || left(coalesce(body_text, ''), 100000)), websearch_to_tsquery('english', :query!)) AS "rank!"
  FROM workspace.gmail_messages
 WHERE user_id = :userId!
   AND to_tsvector('english', coalesce(subject, '') || ' ' || left(coalesce(body_text, ''), 100000)) @@ websearch_to_tsquery('english', :query!)
 ORDER BY 7 DESC, received_at DESC NULLS LAST
 LIMIT :limit!;

/* @name EventsBetween */
-- The user's calendar events overlapping [from, to) (idx_calendar_time).
SELECT * FROM workspace.calendar_events
 WHERE user_id = :userId! AND start_time < :to! AND end_time >= :from!
 ORDER BY start_time, id;

/* @name DeleteGmailMessages */
-- Tombstones: the provider deleted these mails; their rows go (idempotent: an id already gone deletes nothing).
DELETE FROM workspace.gmail_messages g
 USING workspace.integrations i
 WHERE i.id = :integrationId! AND g.user_id = i.user_id AND g.gmail_id = ANY(:ids!::text[])
RETURNING g.id;

/* @name DeleteCalendarEvents */
-- Tombstones: events the provider deleted (on the integration's provider).
DELETE FROM workspace.calendar_events e
 USING workspace.integrations i
 WHERE i.id = :integrationId! AND e.user_id = i.user_id AND e.provider = i.provider AND e.provider_event_id = ANY(:ids!::text[])
RETURNING e.id;

/* @name DeleteDriveFiles */
-- Tombstones: files the provider deleted (on the integration's provider).
DELETE FROM workspace.drive_files f
 USING workspace.integrations i
 WHERE i.id = :integrationId! AND f.user_id = i.user_id AND f.provider = i.provider AND f.provider_file_id = ANY(:ids!::text[])
RETURNING f.id;
