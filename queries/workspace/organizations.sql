/* Organisations and users (workspace.organizations, users, user_preferences, sessions).
   Organisations are created on the owner connection (platform); everything else runs as role `app` with
   the organisation as tenant (RLS). */

/* @name InsertOrganization */
INSERT INTO workspace.organizations (name, slug, plan_type, settings)
VALUES (:name!, :slug, coalesce(:planType, 'free'), coalesce(:settings::jsonb, '{}'::jsonb))
RETURNING *;

/* @name GetOrganization */
SELECT * FROM workspace.organizations WHERE id = :id!;

/* @name UpdateOrganization */
-- Fields left NULL keep their value. Needs organization:update (restrictive policy; plan_type is the platform's).
UPDATE workspace.organizations
   SET name = coalesce(:name, name), settings = coalesce(:settings::jsonb, settings)
 WHERE id = :id!
RETURNING *;

/* @name RevokeOrganizationSessions */
-- Owner connection (sessions are not FORCEd), with the tenant set for the FORCEd users: deleting an
-- organisation ends every session of its members, who are left with no organisation to act in.
WITH gone AS (
  DELETE FROM workspace.sessions s USING workspace.users u
   WHERE u.id = s.user_id AND u.organization_id = :organizationId!
  RETURNING s.id
)
SELECT count(*)::int AS "revoked!" FROM gone;

/* @name DeleteOrganization */
-- Cascades to the organisation's conversations, tasks, roles, grants and templates; users keep with organization_id NULL.
DELETE FROM workspace.organizations WHERE id = :id! RETURNING id;

/* @name InsertUser */
INSERT INTO workspace.users (organization_id, email, password_hash, display_name, first_name, last_name, avatar_url, timezone)
VALUES (:organizationId!, :email!, :passwordHash, :displayName, :firstName, :lastName, :avatarUrl, coalesce(:timezone, 'UTC'))
RETURNING *;

/* @name UserByEmail */
-- Case-insensitive (unique index idx_users_email on lower(email)).
SELECT * FROM workspace.users WHERE lower(email) = lower(:email!);

/* @name GetUser */
SELECT * FROM workspace.users WHERE id = :id!;

/* @name DeleteUser */
-- Cascades to the user's memories, participations, tasks, integrations and synced rows, devices,
-- notifications, sessions, entities and documents; messages keep with sender_id NULL.
DELETE FROM workspace.users WHERE id = :id! RETURNING id;

/* @name TouchLogin */
UPDATE workspace.users SET last_login_at = now() WHERE id = :id! RETURNING last_login_at;

/* @name GetPreferences */
SELECT * FROM workspace.user_preferences WHERE user_id = :userId!;

/* @name UpsertPreferences */
-- Fields left NULL keep their current value (or the column default for a new row).
INSERT INTO workspace.user_preferences AS p
  (user_id, auto_include_memories, max_memories_per_request, auto_extract_from_chat, excluded_memory_types,
   email_notifications, push_notifications, theme, language)
VALUES
  (:userId!, coalesce(:autoIncludeMemories, true), coalesce(:maxMemoriesPerRequest, 5), coalesce(:autoExtractFromChat, false),
   coalesce(:excludedMemoryTypes::text[], '{}'), coalesce(:emailNotifications, true), coalesce(:pushNotifications, true),
   coalesce(:theme, 'system'), coalesce(:language, 'en'))
ON CONFLICT (user_id) DO UPDATE SET
  auto_include_memories    = coalesce(:autoIncludeMemories, p.auto_include_memories),
  max_memories_per_request = coalesce(:maxMemoriesPerRequest, p.max_memories_per_request),
  auto_extract_from_chat   = coalesce(:autoExtractFromChat, p.auto_extract_from_chat),
  excluded_memory_types    = coalesce(:excludedMemoryTypes::text[], p.excluded_memory_types),
  email_notifications      = coalesce(:emailNotifications, p.email_notifications),
  push_notifications       = coalesce(:pushNotifications, p.push_notifications),
  theme                    = coalesce(:theme, p.theme),
  language                 = coalesce(:language, p.language)
RETURNING *;

/* @name InsertSession */
INSERT INTO workspace.sessions (user_id, token_hash, refresh_token_hash, ip_address, user_agent, expires_at)
VALUES (:userId!, :tokenHash!, :refreshTokenHash, :ipAddress::inet, :userAgent, :expiresAt!)
RETURNING id, user_id, ip_address, user_agent, expires_at, created_at;

/* @name ResolveSession */
-- Owner connection (before any tenant is known): the live session with this token hash and its user.
SELECT s.id AS session_id, s.user_id, u.organization_id, s.expires_at
  FROM workspace.sessions s
  JOIN workspace.users u ON u.id = s.user_id
 WHERE s.token_hash = :tokenHash! AND s.expires_at > now() AND u.is_active AND u.organization_id IS NOT NULL;

/* @name DeleteSession */
DELETE FROM workspace.sessions WHERE id = :id! RETURNING id;

/* @name RotateSession */
-- Owner connection (before any tenant is known): a live session of an active user, found by its refresh
-- token, gets new token and refresh-token hashes and a new expiry in one statement: the old refresh token
-- stops working at once.
UPDATE workspace.sessions s
   SET token_hash = :tokenHash!, refresh_token_hash = :refreshTokenHash!, expires_at = :expiresAt!
  FROM workspace.users u
 WHERE s.refresh_token_hash = :oldRefreshTokenHash! AND s.expires_at > now() AND u.id = s.user_id AND u.is_active
   AND u.organization_id IS NOT NULL
RETURNING s.id AS session_id, s.user_id, u.organization_id, s.expires_at;

/* @name PurgeExpiredSessions */
-- Owner connection: every session that expired before :before (default now); returns how many per organisation.
WITH gone AS (
  DELETE FROM workspace.sessions s WHERE s.expires_at < coalesce(:before::timestamptz, now()) RETURNING s.user_id
)
SELECT u.organization_id, count(*) AS "purged!"
  FROM gone JOIN workspace.users u ON u.id = gone.user_id
 GROUP BY u.organization_id
 ORDER BY 1;

/* @name SetOrganizationPlan */
-- Owner connection (platform: billing): the plan of one organisation; returns the plan before and after.
UPDATE workspace.organizations o
   SET plan_type = :planType!
  FROM (SELECT id, plan_type FROM workspace.organizations WHERE id = :id! FOR UPDATE) old
 WHERE o.id = old.id
RETURNING o.*, old.plan_type AS "old_plan_type!";

/* @name OrganizationMemberCount */
-- Owner connection, tenant set: how many members the organisation has (they stay, with organization_id NULL, when it goes).
SELECT count(*)::int AS "members!" FROM workspace.users WHERE organization_id = :organizationId!;

/* @name MemberHolds */
-- Owner connection, tenant set: whether :userId, an active member of the current organisation, holds :permission.
SELECT workspace.permission_covers(workspace.permissions_of(:userId!), :permission!) AS "granted!";
