/* Versioned clause library (wills.clauses): a linked list of versions per code, one current until the clause
   is retired; then none is current and the last version carries retired_at. */

/* @name InsertFirstVersion */
INSERT INTO wills.clauses (code, version, title, body, variables_schema, category, will_types)
VALUES (:code!, 1, :title!, :body!, :variablesSchema!, :category!, :willTypes!)
RETURNING *;

/* @name PublishRevision */
-- Retire the current version only if it is still the one the editor revised (basedOnVersion), and insert
-- its successor in the same statement. A concurrent publisher blocks on the row lock, then finds
-- is_current false and gets zero rows: the service reports that as a conflict. A retired clause has no current
-- version, so publishing on it gets zero rows too (retirement is final).
WITH retired AS (
  UPDATE wills.clauses SET is_current = false
   WHERE code = :code! AND version = :basedOnVersion! AND is_current
  RETURNING id, code, version, title, variables_schema, category, will_types
)
INSERT INTO wills.clauses (code, version, previous_version_id, title, body, variables_schema, category, will_types)
SELECT r.code, r.version + 1, r.id, coalesce(:title, r.title), :body!, coalesce(:variablesSchema, r.variables_schema),
       coalesce(:category, r.category), coalesce(:willTypes, r.will_types)
  FROM retired r
RETURNING *;

/* @name CurrentOrRetiredByCode */
-- The current version, or the last one of a retired clause (at most one row: clauses_one_current_or_retired_per_code).
SELECT * FROM wills.clauses WHERE code = :code! AND (is_current OR retired_at IS NOT NULL);

/* @name LatestVersionOfCode */
-- Why a publish or retirement changed nothing: the code's latest version (NULL: no such clause) and, when the
-- clause is retired, the version retired.
SELECT max(version) AS version, max(version) FILTER (WHERE retired_at IS NOT NULL) AS retired_version
  FROM wills.clauses WHERE code = :code!;

/* @name RetireClause */
-- Retire the clause if basedOnVersion is still its current version (wills.retire_clause: `app` may not write
-- retired_at itself). Zero rows: no such clause, revised concurrently, or already retired.
SELECT id AS "id!", code AS "code!", version AS "version!", previous_version_id, previous_version, is_current AS "is_current!",
       title AS "title!", body AS "body!", variables_schema AS "variables_schema!", category AS "category!",
       will_types AS "will_types!", created_at AS "created_at!", updated_at AS "updated_at!", retired_at
  FROM wills.retire_clause(:code!, :basedOnVersion!);

/* @name ListCurrent */
-- Current clauses, optionally of one category and/or applying to one will type.
SELECT * FROM wills.clauses
 WHERE is_current
   AND (:category::wills.clause_category IS NULL OR category = :category)
   AND (:willType::text IS NULL OR will_types @> jsonb_build_array(:willType::text))
 ORDER BY category, code;

/* @name ClauseHistory */
-- Every version of a code, newest first, by walking previous_version_id back from the current one (the retired
-- last one for a retired clause).
WITH RECURSIVE chain AS (
  SELECT c.*, 0 AS depth FROM wills.clauses c WHERE c.code = :code! AND (c.is_current OR c.retired_at IS NOT NULL)
  UNION ALL
  SELECT p.*, chain.depth + 1 FROM wills.clauses p JOIN chain ON p.id = chain.previous_version_id
)
SELECT id AS "id!", code AS "code!", version AS "version!", previous_version_id, is_current AS "is_current!",
       title AS "title!", body AS "body!", category AS "category!", will_types AS "will_types!",
       variables_schema AS "variables_schema!", created_at AS "created_at!", retired_at
  FROM chain ORDER BY depth;
