/* Roles and grants (organisation-scoped; system roles have organization_id NULL and are read-only for `app`).
   Who may write them is decided by restrictive policies (migrations/*_workspace_permissions.sql): the
   acting user must hold roles:create/update/delete/grant/revoke and every permission of the role. */

/* @name InsertRole */
INSERT INTO workspace.roles (organization_id, name, description, permissions)
VALUES (:organizationId!, :name!, :description, :permissions!::text[])
RETURNING *;

/* @name UpdateRole */
-- Fields left NULL keep their value. System roles are not the organisation's: no row.
UPDATE workspace.roles
   SET name = coalesce(:name, name), description = coalesce(:description, description), permissions = coalesce(:permissions::text[], permissions)
 WHERE id = :id! AND organization_id = :organizationId!
RETURNING *;

/* @name DeleteRole */
-- Its grants go with it (ON DELETE CASCADE).
DELETE FROM workspace.roles WHERE id = :id! AND organization_id = :organizationId! RETURNING id, name;

/* @name GetRole */
SELECT * FROM workspace.roles WHERE id = :id!;

/* @name ListRoles */
-- The organisation's roles and the system ones (owner, admin, member), system first.
SELECT * FROM workspace.roles ORDER BY is_system DESC, name;

/* @name GrantRole */
-- Granting again renews the grant (new expiry, grantor and time).
INSERT INTO workspace.user_roles AS g (user_id, role_id, organization_id, granted_by, expires_at)
VALUES (:userId!, :roleId!, :organizationId!, :grantedBy, :expiresAt)
ON CONFLICT (user_id, role_id) DO UPDATE SET granted_by = excluded.granted_by, granted_at = now(), expires_at = excluded.expires_at
RETURNING *;

/* @name GrantOwner */
-- Owner connection, when an organisation is created: its first member becomes its owner.
INSERT INTO workspace.user_roles (user_id, role_id, organization_id, granted_by)
VALUES (:userId!, workspace.owner_role_id(), :organizationId!, NULL)
RETURNING *;

/* @name RevokeRole */
DELETE FROM workspace.user_roles WHERE user_id = :userId! AND role_id = :roleId! RETURNING user_id, role_id;

/* @name HasPermission */
-- True when an unexpired grant in the current organisation gives the user the permission (exact, resource:* or *).
SELECT workspace.permission_covers(workspace.permissions_of(:userId!), :permission!) AS "granted!";

/* @name PermissionsOfUser */
-- Every permission the user holds in the current organisation through unexpired grants.
SELECT workspace.permissions_of(:userId!) AS "permissions!";

/* @name RolesOfUser */
SELECT r.id, r.name, r.permissions, r.is_system, g.granted_at, g.expires_at, (g.expires_at IS NULL OR g.expires_at > now()) AS "active!"
  FROM workspace.user_roles g
  JOIN workspace.roles r ON r.id = g.role_id
 WHERE g.user_id = :userId!
 ORDER BY r.name;
