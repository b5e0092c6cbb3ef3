-- Migration: retiring a clause from the wills library (issue 19): after retirement no version is current,
-- every version stays, and retirement is final.
--
-- What:
--   * wills.clauses.retired_at: set, once, on the version that was current when its clause was retired (the
--     service's retireClause). NULL on every other row. A retired clause has no current version:
--     CHECK clauses_retired_not_current on the row, and the partial UNIQUE index
--     clauses_one_current_or_retired_per_code across rows: per code at most one row is current or retired,
--     so once a code is retired no version of it can become current again (a new version inserted as
--     current, or an old one flipped back, is a unique violation, also under concurrency) and it cannot be
--     retired twice. The index also serves the lookup "the current version, or the retired last one".
--   * wills.retire_clause(code, version): the one way to retire, for `app` as for the service. It ends the
--     current version only if it is still the one the caller saw (version), as publishing does, and stamps
--     retired_at. SECURITY DEFINER because `app` gets no privilege on retired_at at all: its INSERT grant
--     becomes a column list without retired_at, and it has no UPDATE of it, so `app` cannot retire without
--     the function, unretire, or insert a row born retired.
--   * Constraint trigger clauses_end_by_retirement: a version may stop being current only when another
--     version of its code is current by the end of the statement (publishing) or it is retired. `app` has
--     always been able to UPDATE is_current; without this, `is_current = false` by hand would end a clause
--     with no retirement on record. DEFERRABLE INITIALLY IMMEDIATE: a DBA publishing by hand in two
--     statements can SET CONSTRAINTS clauses_end_by_retirement DEFERRED.
-- Why retirement is final (no revival by publishing): a retired clause is one the library should no longer
--   offer (e.g. the law changed). An editor who loaded version N before it was retired would otherwise
--   revive it by publishing N + 1 with basedOnVersion N, silently undoing someone else's decision. Text worth
--   using again starts a new lineage under a new code.
-- Wills that used a retired clause stay valid: nothing is deleted or rewritten but is_current and retired_at
--   of the last version; no key changes, so the chain FK (ON DELETE RESTRICT) and anything referencing a
--   version by id keep resolving. No table references wills.clauses besides its own chain today (seed 004
--   has no will documents; consent records name privacy-policy versions, not clauses).
-- Backfill: a code with no current version (possible before, by `is_current = false` by hand, or after going
--   down and up again) is retired at its last version, at the time of its clause.retired audit row if there
--   is one, else now: that is what "no current version" means from now on.
-- Safety: wills.clauses is a library (hundreds to thousands of rows). ADD COLUMN without a default is a
--   catalog change. The CHECK is validated as it is added, a scan of this small table under the migration's
--   lock (the backfill sets retired_at only on rows that are not current, so it holds). The index builds
--   under SHARE (writes to clauses wait, reads go on) inside the migration's transaction.
-- Down: restores the table-wide INSERT grant and drops the trigger, function, index, CHECK and column.
--   Retired clauses keep no current version, and their retirement stays on record in wills.audit_logs
--   (clause.retired, details.retired_at), from which going up again restores retired_at.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE wills.clauses ADD COLUMN retired_at timestamptz;
COMMENT ON COLUMN wills.clauses.retired_at IS 'When the clause was retired (retireClause, wills.retire_clause): set once, on the version that was current then; NULL otherwise. A retired clause has no current version and is never current again.';
COMMENT ON COLUMN wills.clauses.is_current IS 'True for the one version of the code in use; publishing a revision flips it in the same statement. False on every version of a retired clause.';

UPDATE wills.clauses c
   SET retired_at = coalesce(
         (SELECT max(a.created_at) FROM wills.audit_logs a
           WHERE a.resource_type = 'clause' AND a.resource_id = c.id AND a.action = 'clause.retired'),
         now())
 WHERE c.version = (SELECT max(l.version) FROM wills.clauses l WHERE l.code = c.code)
   AND NOT EXISTS (SELECT FROM wills.clauses x WHERE x.code = c.code AND x.is_current);

-- See Safety above: checked against the (small) table here; the backfill set retired_at only on rows not current.
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE wills.clauses ADD CONSTRAINT clauses_retired_not_current CHECK (retired_at IS NULL OR NOT is_current);

-- See Safety above: a small table, indexed inside the migration's transaction.
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX clauses_one_current_or_retired_per_code ON wills.clauses (code) WHERE is_current OR retired_at IS NOT NULL;
COMMENT ON INDEX wills.clauses_one_current_or_retired_per_code IS 'Per code at most one row that is current or retired: a retired clause never has a current version again, and is retired once.';

CREATE FUNCTION wills.retire_clause(p_code text, p_version integer) RETURNS SETOF wills.clauses
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, wills
  AS $$
BEGIN
  RETURN QUERY
    UPDATE wills.clauses c SET is_current = false, retired_at = now()
     WHERE c.code = p_code AND c.version = p_version AND c.is_current
    RETURNING c.*;
END $$;
COMMENT ON FUNCTION wills.retire_clause(text, integer) IS 'Retire clause p_code if p_version is its current version: that version stops being current and gets retired_at. Returns it; no row when the code does not exist, is at another version or is already retired.';
REVOKE EXECUTE ON FUNCTION wills.retire_clause(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wills.retire_clause(text, integer) TO app;

-- app inserts every column but retired_at (the generated previous_version takes no value).
REVOKE INSERT ON wills.clauses FROM app;
GRANT INSERT (id, code, version, previous_version_id, is_current, title, body, variables_schema, category, will_types, created_at, updated_at)
  ON wills.clauses TO app;

CREATE FUNCTION wills.clause_ends_by_retirement() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF OLD.is_current AND NOT NEW.is_current AND NEW.retired_at IS NULL
     AND NOT EXISTS (SELECT FROM wills.clauses c WHERE c.code = NEW.code AND c.is_current) THEN
    -- check_violation with the trigger's name: the service layer reports it as a ValidationError naming it.
    RAISE EXCEPTION 'a clause ends only by retirement (wills.retire_clause): its current version cannot just stop being current'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'clauses_end_by_retirement', SCHEMA = 'wills', TABLE = 'clauses';
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION wills.clause_ends_by_retirement() IS 'Constraint trigger clauses_end_by_retirement: a version stops being current only when its code has another current version (publishing) or it is retired.';

CREATE CONSTRAINT TRIGGER clauses_end_by_retirement AFTER UPDATE OF is_current ON wills.clauses
  DEFERRABLE INITIALLY IMMEDIATE
  FOR EACH ROW EXECUTE FUNCTION wills.clause_ends_by_retirement();

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP TRIGGER clauses_end_by_retirement ON wills.clauses;
DROP FUNCTION wills.clause_ends_by_retirement();
REVOKE INSERT ON wills.clauses FROM app;
GRANT INSERT ON wills.clauses TO app;
DROP FUNCTION wills.retire_clause(text, integer);
-- Down section: drops the index this migration created, inside its transaction.
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX wills.clauses_one_current_or_retired_per_code;
ALTER TABLE wills.clauses DROP CONSTRAINT clauses_retired_not_current;
COMMENT ON COLUMN wills.clauses.is_current IS 'True for the one version of the code in use; publishing a revision flips it in the same transaction.';
-- Down section: drops the column this migration added (its facts stay in wills.audit_logs, see Down above).
-- squawk-ignore ban-drop-column
ALTER TABLE wills.clauses DROP COLUMN retired_at;
