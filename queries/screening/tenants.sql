/* Tenants (screening.tenants). Created and deactivated by the platform (owner role); read by `app`. */

/* @name InsertTenant */
INSERT INTO screening.tenants (slug, name) VALUES (:slug!, :name!) RETURNING *;

/* @name TenantBySlug */
SELECT * FROM screening.tenants WHERE slug = :slug!;

/* @name DeactivateTenant */
UPDATE screening.tenants SET is_active = false WHERE tenant_id = :tenantId! RETURNING *;

/* @name ActiveTenantIds */
SELECT tenant_id FROM screening.tenants WHERE is_active ORDER BY tenant_id;
