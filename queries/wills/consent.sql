/* POPIA consent records (wills.consent_records). Run as role `app` through the wills service. */

/* @name InsertConsent */
INSERT INTO wills.consent_records
  (data_subject_id, consent_categories, privacy_policy_version, consent_text_version, channel, ip_address, user_agent)
VALUES
  (:dataSubjectId!, :consentCategories!, :privacyPolicyVersion!, :consentTextVersion!, :channel!, :ipAddress::inet, :userAgent)
RETURNING *;

/* @name WithdrawConsent */
-- Only an active record can be withdrawn; zero rows back means it was already withdrawn or does not exist.
UPDATE wills.consent_records
   SET withdrawn_at = now()
 WHERE id = :id! AND data_subject_id = :dataSubjectId! AND withdrawn_at IS NULL
RETURNING *;

/* @name GetConsent */
SELECT * FROM wills.consent_records WHERE id = :id!;

/* @name CurrentPolicyVersion */
-- The version in force (wills.policy_in_force()), NULL when none is published.
SELECT wills.policy_in_force() AS version;

/* @name ActiveConsents */
-- The subject's active records under one policy version, newest grant first.
SELECT * FROM wills.consent_records
 WHERE data_subject_id = :dataSubjectId! AND privacy_policy_version = :privacyPolicyVersion! AND withdrawn_at IS NULL
 ORDER BY granted_at DESC, id DESC;

/* @name LockActiveConsent */
-- The subject's active record under one policy version (at most one: consent_records_one_active_per_policy), locked.
SELECT * FROM wills.consent_records
 WHERE data_subject_id = :dataSubjectId! AND privacy_policy_version = :privacyPolicyVersion! AND withdrawn_at IS NULL
 FOR UPDATE;

/* @name ConsentHistory */
SELECT * FROM wills.consent_records
 WHERE data_subject_id = :dataSubjectId!
 ORDER BY granted_at DESC, id DESC;

/* @name HasConsent */
-- True when an active record under the current policy version grants this category.
SELECT EXISTS (
  SELECT FROM wills.consent_records r
   WHERE r.data_subject_id = :dataSubjectId! AND withdrawn_at IS NULL AND consent_categories -> :category!::text = 'true'::jsonb
     AND r.privacy_policy_version = wills.policy_in_force()
) AS "granted!";

/* @name InsertPolicyVersion */
INSERT INTO wills.privacy_policy_versions (version, effective_from, summary) VALUES (:version!, :effectiveFrom!, :summary) RETURNING *;
