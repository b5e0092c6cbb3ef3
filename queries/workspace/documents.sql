/* Documents (private to one user) and templates (organisation-scoped, plus system templates). */

/* @name InsertTemplate */
INSERT INTO workspace.document_templates (organization_id, name, document_type, outline, instructions)
VALUES (:organizationId!, :name!, :documentType!, coalesce(:outline::text[], '{}'), :instructions)
RETURNING *;

/* @name ListTemplates */
-- The organisation's templates and the system ones, optionally of one document type.
SELECT * FROM workspace.document_templates
 WHERE (:documentType::text IS NULL OR document_type = :documentType)
 ORDER BY is_system, name;

/* @name InsertDocument */
-- Outline defaults to the template's.
INSERT INTO workspace.documents (user_id, document_type, title, content, outline, template_id, context_memory_ids)
SELECT :userId!, :documentType!, :title!, :content,
       coalesce(:outline::text[], (SELECT t.outline FROM workspace.document_templates t WHERE t.id = :templateId), '{}'),
       :templateId, coalesce(:contextMemoryIds::uuid[], '{}')
RETURNING *;

/* @name DocumentReferences */
-- What a new document may refer to, as the acting user sees it (RLS): whether the template is visible (the
-- organisation's or a system one) and which context memories are not the user's own live memories.
SELECT (:templateId::uuid IS NULL OR EXISTS (SELECT FROM workspace.document_templates t WHERE t.id = :templateId::uuid)) AS "template_visible!",
       ARRAY(SELECT x.id FROM unnest(coalesce(:contextMemoryIds::uuid[], '{}')) AS x(id)
              WHERE NOT EXISTS (SELECT FROM workspace.memories m WHERE m.id = x.id AND m.deleted_at IS NULL)) AS "missing_memory_ids!";

/* @name GetDocumentForUpdate */
SELECT * FROM workspace.documents WHERE id = :id! FOR UPDATE;

/* @name UpdateDocument */
UPDATE workspace.documents SET status = :status!, content = coalesce(:content, content) WHERE id = :id! RETURNING *;

/* @name DocumentsOfUser */
SELECT * FROM workspace.documents WHERE user_id = :userId! ORDER BY updated_at DESC, id LIMIT :limit!;
