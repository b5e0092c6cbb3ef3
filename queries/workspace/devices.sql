/* Devices and notifications (private to one user). */

/* @name RegisterDevice */
-- Registering a known token reactivates it.
INSERT INTO workspace.devices AS d (user_id, device_token, platform, device_name)
VALUES (:userId!, :deviceToken!, :platform!, :deviceName)
ON CONFLICT (user_id, device_token) DO UPDATE SET
  platform = excluded.platform, device_name = coalesce(excluded.device_name, d.device_name), is_active = true, last_used_at = now()
RETURNING *;

/* @name DeactivateDevice */
UPDATE workspace.devices SET is_active = false WHERE id = :id! RETURNING *;

/* @name ActiveDevices */
SELECT * FROM workspace.devices WHERE user_id = :userId! AND is_active ORDER BY last_used_at DESC, id;

/* @name InsertNotification */
INSERT INTO workspace.notifications (user_id, type, title, body, data, resource_type, resource_id)
VALUES (:userId!, :type!, :title, :body, coalesce(:data::jsonb, '{}'::jsonb), :resourceType, :resourceId)
RETURNING *;

/* @name UnreadNotifications */
-- idx_notifications_unread.
SELECT * FROM workspace.notifications WHERE user_id = :userId! AND is_read = false ORDER BY created_at DESC, id LIMIT :limit!;

/* @name MarkNotificationsRead */
UPDATE workspace.notifications SET is_read = true, read_at = now()
 WHERE user_id = :userId! AND is_read = false AND id = ANY(:ids!::uuid[])
RETURNING id;
