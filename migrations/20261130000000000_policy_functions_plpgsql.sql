-- Migration: the functions row-level security policies call on every statement, in plpgsql.
--
-- What: screening.current_tenant() (every screening policy for app), workspace.current_user_id() (every
--   workspace policy on private rows) and workspace.is_participant() (private conversations) were SQL
--   functions whose bodies read a table. PostgreSQL does not inline such a function and plans its body again
--   at every call; plpgsql keeps the plan for the session. Same bodies, same rights (the first and last stay
--   SECURITY DEFINER with a fixed search_path, current_user_id stays with the caller's rights, so RLS on
--   users still applies to it), same results.
-- Why: issue 16 measured the screening point lookup under RLS on PostgreSQL 15 (loopback): the tenant
--   transaction's statement took ~430 us against ~115 us for the same lookup as the owner, most of it three
--   calls of current_tenant(); as plpgsql, ~220 us.
-- Safety: CREATE OR REPLACE keeps owners, grants and comments; no table is touched. Down restores the SQL
--   bodies.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE OR REPLACE FUNCTION screening.current_tenant() RETURNS uuid
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, screening
  AS $$
BEGIN
  RETURN (SELECT t.tenant_id FROM screening.tenants t
           WHERE t.tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid AND t.is_active);
END $$;

CREATE OR REPLACE FUNCTION workspace.current_user_id() RETURNS uuid
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  AS $$
BEGIN
  -- Runs with the caller's rights: under RLS `app` sees only users of the current organisation, so a
  -- user id from another organisation (or none) yields NULL and matches no row.
  RETURN (SELECT u.id FROM workspace.users u
           WHERE u.id = nullif(current_setting('app.user_id', true), '')::uuid
             AND u.organization_id = workspace.current_org_id()
             AND u.is_active);
END $$;

CREATE OR REPLACE FUNCTION workspace.is_participant(p_conversation_id uuid) RETURNS boolean
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, workspace
  AS $$
BEGIN
  RETURN EXISTS (SELECT FROM workspace.conversation_participants p
                  WHERE p.conversation_id = p_conversation_id AND p.user_id = workspace.current_user_id());
END $$;

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE OR REPLACE FUNCTION workspace.is_participant(p_conversation_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, workspace
  AS $$ SELECT EXISTS (SELECT FROM workspace.conversation_participants p
                        WHERE p.conversation_id = p_conversation_id
                          AND p.user_id = workspace.current_user_id()) $$;

CREATE OR REPLACE FUNCTION workspace.current_user_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  -- Runs with the caller's rights: under RLS `app` sees only users of the current organisation, so a
  -- user id from another organisation (or none) yields NULL and matches no row.
  SELECT u.id FROM workspace.users u
   WHERE u.id = nullif(current_setting('app.user_id', true), '')::uuid
     AND u.organization_id = workspace.current_org_id()
     AND u.is_active
$$;

CREATE OR REPLACE FUNCTION screening.current_tenant() RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, screening
  AS $$ SELECT t.tenant_id FROM screening.tenants t
         WHERE t.tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid AND t.is_active $$;
