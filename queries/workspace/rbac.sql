/* Roles and grants (organisation-scoped; system roles have organization_id NULL and are read-only for `app`). */

/* @name InsertRole */
INSERT INTO workspace.roles (organization_id, name, description, permissions)
VALUES (:organizationId!, :name!, :description, :permissions!::text[])
RETURNING *;

/* @name GrantRole */
-- Granting again renews the grant (new expiry, grantor and time).
INSERT INTO workspace.user_roles AS g (user_id, role_id, organization_id, granted_by, expires_at)
VALUES (:userId!, :roleId!, :organizationId!, :grantedBy, :expiresAt)
ON CONFLICT (user_id, role_id) DO UPDATE SET granted_by = excluded.granted_by, granted_at = now(), expires_at = excluded.expires_at
RETURNING *;

/* @name RevokeRole */
DELETE FROM workspace.user_roles WHERE user_id = :userId! AND role_id = :roleId! RETURNING user_id, role_id;

/* @name HasPermission */
-- True when an unexpired grant in the organisation gives the user the permission (exact, or resource:*).
SELECT EXISTS (
  SELECT FROM workspace.user_roles g
  JOIN workspace.roles r ON r.id = g.role_id
 WHERE g.user_id = :userId! AND g.organization_id = :organizationId!
   AND (g.expires_at IS NULL OR g.expires_at > now())
   AND r.permissions && ARRAY[:permission!::text, split_part(:permission!::text, ':', 1) || ':*']
) AS "granted!";

/* @name RolesOfUser */
SELECT r.id, r.name, r.permissions, r.is_system, g.granted_at, g.expires_at, (g.expires_at IS NULL OR g.expires_at > now()) AS "active!"
  FROM workspace.user_roles g
  JOIN workspace.roles r ON r.id = g.role_id
 WHERE g.user_id = :userId!
 ORDER BY r.name;
