-- Migration: core foundation
--
-- What: schema `core` with the shared building blocks every domain schema uses:
--   * core.uuidv7()                      UUIDv7 generator for primary-key defaults (PostgreSQL 15 has no
--                                        uuidv7(); 18 does, ours has the same layout plus sub-millisecond
--                                        ordering, so one definition serves both engines).
--   * core.uuidv7_time(uuid)             the creation time encoded in a UUIDv7.
--   * core.touch_updated_at()            BEFORE UPDATE trigger that maintains updated_at.
--   * core.reject_mutation()             append-only guard: UPDATE/DELETE (row) and TRUNCATE (statement)
--                                        raise SQLSTATE AO001, for every role including the owner.
--   * core.make_append_only(table)       attaches that guard to a table and to all its partitions.
--   * core.ensure_monthly_partitions(table, months_ahead)
--                                        idempotently creates monthly RANGE partitions (UTC months) for the
--                                        current month and N ahead, plus a DEFAULT partition so an insert
--                                        never fails; new partitions of an append-only parent get the
--                                        TRUNCATE guard (row triggers are cloned to partitions by
--                                        PostgreSQL, statement triggers are not).
--   * core.ensure_all_monthly_partitions(months_ahead) and core.partition_report() for `make partitions`.
--   * extensions: vector (pgvector, workspace memories) and pgcrypto (hashing/HMAC in SQL for the domain
--     schemas). Both are created IF NOT EXISTS, so a DBA may pre-install them on managed servers.
--   * role `app` (NOLOGIN): the service layer switches to it with SET LOCAL ROLE inside each transaction,
--     so grants and row-level security apply even when the login user owns the tables.
-- Why: the Foundation issue; every domain schema builds on these instead of copying them.
-- Safety: creates new objects only; no existing table is locked. Roles are cluster-wide: `app` is created
--   only if missing, and the Down section drops it only when no other database still uses it.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE SCHEMA core;
COMMENT ON SCHEMA core IS 'Shared functions used by every domain schema: UUIDv7 keys, updated_at trigger, append-only guard, monthly partition management.';

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app') THEN
    CREATE ROLE app NOLOGIN;
  END IF;
  -- The login user must be able to SET ROLE app (superusers always can).
  IF NOT pg_has_role(current_user, 'app', 'MEMBER') THEN
    EXECUTE format('GRANT app TO %I', current_user);
  END IF;
END
$$;

GRANT USAGE ON SCHEMA core TO app;

-- UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version 7, 12 bits of sub-millisecond time (as PostgreSQL
-- 18's uuidv7() does, so ids made in one session sort in creation order), variant and 62 random bits.
CREATE FUNCTION core.uuidv7() RETURNS uuid
LANGUAGE plpgsql VOLATILE PARALLEL SAFE AS $$
DECLARE
  us  bigint := floor(extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
  sub integer := ((us % 1000) * 4096 / 1000)::integer;
  b   bytea := uuid_send(gen_random_uuid());   -- v4: random bits with the RFC variant already set
BEGIN
  b := overlay(b PLACING substring(int8send(us / 1000) FROM 3) FROM 1 FOR 6);
  b := set_byte(b, 6, 112 | (sub >> 8));        -- 0x70: version 7 in the high nibble
  b := set_byte(b, 7, sub & 255);
  RETURN encode(b, 'hex')::uuid;
END
$$;
COMMENT ON FUNCTION core.uuidv7() IS 'A new UUIDv7: time-ordered (microsecond resolution), for primary-key defaults. Same layout as PostgreSQL 18''s uuidv7().';

CREATE FUNCTION core.uuidv7_time(id uuid) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT to_timestamp(('x' || substr(replace(id::text, '-', ''), 1, 12))::bit(48)::bigint / 1000.0)
$$;
COMMENT ON FUNCTION core.uuidv7_time(uuid) IS 'The creation time (millisecond precision) encoded in a UUIDv7.';

CREATE FUNCTION core.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION core.touch_updated_at() IS 'BEFORE UPDATE row trigger: sets updated_at to the transaction time.';

CREATE FUNCTION core.reject_mutation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING
    ERRCODE = 'AO001',
    MESSAGE = format('%s on %I.%I is not allowed: the table is append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME),
    HINT    = 'Audit rows are never changed or removed; record a new row instead. Retention is a deliberate DBA act: DETACH PARTITION, archive, DROP.',
    SCHEMA  = TG_TABLE_SCHEMA,
    TABLE   = TG_TABLE_NAME;
END
$$;
COMMENT ON FUNCTION core.reject_mutation() IS 'Append-only guard: raises SQLSTATE AO001 for UPDATE, DELETE and TRUNCATE, whoever runs them.';

-- Idempotent: attach the statement-level TRUNCATE guard to one table (partitions need their own).
CREATE FUNCTION core.guard_truncate(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = tbl AND tgname = 'append_only_truncate') THEN
    EXECUTE format('CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION core.reject_mutation()', tbl);
  END IF;
END
$$;
COMMENT ON FUNCTION core.guard_truncate(regclass) IS 'Attach the TRUNCATE guard to one table if it is missing.';

CREATE FUNCTION core.make_append_only(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  part regclass;
BEGIN
  IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = tbl AND tgname = 'append_only_row') THEN
    -- On a partitioned table this row trigger is cloned to every present and future partition.
    EXECUTE format('CREATE TRIGGER append_only_row BEFORE UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION core.reject_mutation()', tbl);
  END IF;
  FOR part IN SELECT relid FROM pg_partition_tree(tbl) LOOP
    PERFORM core.guard_truncate(part);
  END LOOP;
END
$$;
COMMENT ON FUNCTION core.make_append_only(regclass) IS 'Make a table append-only: UPDATE/DELETE row trigger plus a TRUNCATE trigger on the table and each of its partitions.';

CREATE FUNCTION core.ensure_monthly_partitions(parent regclass, months_ahead integer DEFAULT 3)
RETURNS TABLE (partition_name text, range_start timestamptz, range_end timestamptz, created boolean)
LANGUAGE plpgsql AS $$
DECLARE
  nsp     text;
  rel     text;
  guarded boolean;
  month0  timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');  -- month arithmetic in UTC, not the session zone
  i       integer;
BEGIN
  IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 120 THEN
    RAISE EXCEPTION 'months_ahead must be between 0 and 120' USING ERRCODE = '22023';
  END IF;
  SELECT n.nspname, c.relname INTO nsp, rel
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_partitioned_table p ON p.partrelid = c.oid
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = p.partattrs[0]
   WHERE c.oid = parent AND p.partstrat = 'r' AND p.partnatts = 1 AND a.atttypid = 'timestamptz'::regtype;
  IF rel IS NULL THEN
    RAISE EXCEPTION '% is not range-partitioned on a single timestamptz column', parent USING ERRCODE = '22023';
  END IF;
  guarded := EXISTS (SELECT FROM pg_trigger WHERE tgrelid = parent AND tgname = 'append_only_truncate');

  FOR i IN 0..months_ahead LOOP
    partition_name := format('%s_p%s', rel, to_char(month0 + make_interval(months => i), 'YYYY_MM'));
    range_start := (month0 + make_interval(months => i)) AT TIME ZONE 'UTC';
    range_end := (month0 + make_interval(months => i + 1)) AT TIME ZONE 'UTC';
    created := to_regclass(format('%I.%I', nsp, partition_name)) IS NULL;
    IF created THEN
      BEGIN
        EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                       nsp, partition_name, parent, range_start, range_end);
      EXCEPTION WHEN check_violation THEN
        RAISE EXCEPTION 'cannot create partition %.%: the DEFAULT partition already holds rows for [%, %)',
                        nsp, partition_name, range_start, range_end
          USING ERRCODE = 'check_violation',
                HINT = 'Move those rows out of the DEFAULT partition first (see core.partition_report()).';
      END;
      EXECUTE format('COMMENT ON TABLE %I.%I IS %L', nsp, partition_name,
                     format('Monthly partition of %s.%s for [%s, %s) UTC, made by core.ensure_monthly_partitions.',
                            nsp, rel, to_char(range_start AT TIME ZONE 'UTC', 'YYYY-MM-DD'), to_char(range_end AT TIME ZONE 'UTC', 'YYYY-MM-DD')));
      IF guarded THEN
        PERFORM core.guard_truncate(format('%I.%I', nsp, partition_name)::regclass);
      END IF;
    END IF;
    RETURN NEXT;
  END LOOP;

  partition_name := rel || '_default';
  range_start := NULL;
  range_end := NULL;
  created := NOT EXISTS (SELECT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                          WHERE i.inhparent = parent AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT');
  IF created THEN
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s DEFAULT', nsp, partition_name, parent);
    EXECUTE format('COMMENT ON TABLE %I.%I IS %L', nsp, partition_name,
                   format('DEFAULT partition of %s.%s: catches rows outside the monthly partitions; should stay empty.', nsp, rel));
    IF guarded THEN
      PERFORM core.guard_truncate(format('%I.%I', nsp, partition_name)::regclass);
    END IF;
  END IF;
  RETURN NEXT;
END
$$;
COMMENT ON FUNCTION core.ensure_monthly_partitions(regclass, integer) IS 'Idempotently create UTC monthly partitions for the current month and months_ahead more, plus DEFAULT. Returns one row per partition, created = true for the new ones.';

-- Every table RANGE-partitioned on one timestamptz column, outside the system schemas.
CREATE FUNCTION core.monthly_partitioned_tables() RETURNS SETOF regclass
LANGUAGE sql STABLE AS $$
  SELECT c.oid::regclass
    FROM pg_partitioned_table p
    JOIN pg_class c ON c.oid = p.partrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = p.partattrs[0]
   WHERE p.partstrat = 'r' AND p.partnatts = 1 AND a.atttypid = 'timestamptz'::regtype
     AND NOT c.relispartition
     AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   ORDER BY n.nspname, c.relname
$$;
COMMENT ON FUNCTION core.monthly_partitioned_tables() IS 'Tables that core.ensure_all_monthly_partitions maintains.';

CREATE FUNCTION core.ensure_all_monthly_partitions(months_ahead integer DEFAULT 3)
RETURNS TABLE (parent text, partition_name text, range_start timestamptz, range_end timestamptz, created boolean)
LANGUAGE sql AS $$
  SELECT t::text, e.partition_name, e.range_start, e.range_end, e.created
    FROM core.monthly_partitioned_tables() AS t,
         LATERAL core.ensure_monthly_partitions(t, months_ahead) AS e
$$;
COMMENT ON FUNCTION core.ensure_all_monthly_partitions(integer) IS 'core.ensure_monthly_partitions for every monthly partitioned table in the database.';

CREATE FUNCTION core.partition_report()
RETURNS TABLE (parent text, partition_name text, bound text, is_default boolean, row_count bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT t AS parent_oid, c.oid AS part_oid, n.nspname, c.relname, pg_get_expr(c.relpartbound, c.oid) AS b
      FROM core.monthly_partitioned_tables() AS t
      JOIN pg_inherits i ON i.inhparent = t
      JOIN pg_class c ON c.oid = i.inhrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     ORDER BY t::text, (pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'), c.relname
  LOOP
    parent := r.parent_oid::regclass::text;
    partition_name := r.relname;
    bound := r.b;
    is_default := r.b = 'DEFAULT';
    EXECUTE format('SELECT count(*) FROM %I.%I', r.nspname, r.relname) INTO row_count;
    RETURN NEXT;
  END LOOP;
END
$$;
COMMENT ON FUNCTION core.partition_report() IS 'Each partition of each monthly partitioned table with its bound and exact row count (DEFAULT partitions should hold 0).';

-- Partition and guard management is for the migration owner and DBAs, not the application role.
REVOKE ALL ON FUNCTION core.guard_truncate(regclass), core.make_append_only(regclass),
  core.ensure_monthly_partitions(regclass, integer), core.ensure_all_monthly_partitions(integer),
  core.partition_report(), core.monthly_partitioned_tables() FROM PUBLIC;

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP FUNCTION core.partition_report();
DROP FUNCTION core.ensure_all_monthly_partitions(integer);
DROP FUNCTION core.monthly_partitioned_tables();
DROP FUNCTION core.ensure_monthly_partitions(regclass, integer);
DROP FUNCTION core.make_append_only(regclass);
DROP FUNCTION core.guard_truncate(regclass);
DROP FUNCTION core.reject_mutation();
DROP FUNCTION core.touch_updated_at();
DROP FUNCTION core.uuidv7_time(uuid);
DROP FUNCTION core.uuidv7();
REVOKE USAGE ON SCHEMA core FROM app;
DROP SCHEMA core;

-- `app` is cluster-wide: other databases on this server (test databases, other environments) may still
-- hold grants to it, in which case it stays.
DO $$
BEGIN
  DROP ROLE IF EXISTS app;
EXCEPTION WHEN dependent_objects_still_exist THEN
  RAISE NOTICE 'role app is still used by another database in this cluster; kept';
END
$$;

DROP EXTENSION IF EXISTS pgcrypto;
DROP EXTENSION IF EXISTS vector;
