-- Migration: workspace reference checks: a user's memory or document may only point at rows the user's
-- organisation can see.
--
-- What: the row-level security policies own_rows of workspace.memories and workspace.documents gain a
--   WITH CHECK clause: a memory's conversation_id must be a conversation of the current organisation, a
--   document's template_id a template of the current organisation or a system template.
-- Why: foreign keys are checked outside row-level security, so a user who knew another organisation's
--   conversation or template id could link to it (an existence oracle across tenants, and a dangling
--   cross-tenant reference). Found by the workspace isolation test (issue 7). The service
--   (src/workspace/memories.ts, documents.ts) checks the same first and answers NotFoundError; these
--   policies hold for hand-written SQL as `app` too. The subqueries run under the referenced table's own
--   policies, so "visible" means exactly what the organisation may read.
--   Referential actions (ON DELETE SET NULL when the conversation or template goes) bypass row-level
--   security, so they are not affected.
-- Safety: policy changes only (ACCESS EXCLUSIVE on the two tables for an instant); existing rows are not
--   re-checked.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP POLICY own_rows ON workspace.memories;
CREATE POLICY own_rows ON workspace.memories
  USING (user_id = (SELECT workspace.current_user_id()))
  WITH CHECK (user_id = (SELECT workspace.current_user_id())
              AND (conversation_id IS NULL OR EXISTS (SELECT FROM workspace.conversations c WHERE c.id = conversation_id)));

DROP POLICY own_rows ON workspace.documents;
CREATE POLICY own_rows ON workspace.documents
  USING (user_id = (SELECT workspace.current_user_id()))
  WITH CHECK (user_id = (SELECT workspace.current_user_id())
              AND (template_id IS NULL OR EXISTS (SELECT FROM workspace.document_templates t WHERE t.id = template_id)));

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP POLICY own_rows ON workspace.documents;
CREATE POLICY own_rows ON workspace.documents USING (user_id = (SELECT workspace.current_user_id()));

DROP POLICY own_rows ON workspace.memories;
CREATE POLICY own_rows ON workspace.memories USING (user_id = (SELECT workspace.current_user_id()));
