/* Tenants (screening.tenants). Created, updated and deactivated by the platform (owner role); read by `app`,
   which may also rename its own live tenant (UPDATE of name only; policy own_tenant). */

/* @name InsertTenant */
INSERT INTO screening.tenants (slug, name) VALUES (:slug!, :name!) RETURNING *;

/* @name TenantBySlug */
SELECT * FROM screening.tenants WHERE slug = :slug!;

/* @name DeactivateTenant */
UPDATE screening.tenants SET is_active = false WHERE tenant_id = :tenantId! RETURNING *;

/* @name ActiveTenantIds */
SELECT tenant_id FROM screening.tenants WHERE is_active ORDER BY tenant_id;

/* @name AllTenantIds */
-- Every tenant, active or not (the retention purge works through each one's rows).
SELECT tenant_id FROM screening.tenants ORDER BY tenant_id;

/* @name RenameTenant */
-- As `app`: the policy own_tenant leaves only the caller's own live tenant to UPDATE, and `app` may change only the name.
UPDATE screening.tenants SET name = :name! WHERE tenant_id = :tenantId! RETURNING *;

/* @name UpdateTenant */
-- Platform (owner): a column whose parameter is NULL stays as it is.
UPDATE screening.tenants SET name = coalesce(:name, name), is_active = coalesce(:isActive, is_active)
 WHERE tenant_id = :tenantId!
RETURNING *;
