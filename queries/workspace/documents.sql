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

/* @name GetDocumentForUpdate */
SELECT * FROM workspace.documents WHERE id = :id! FOR UPDATE;

/* @name UpdateDocument */
UPDATE workspace.documents SET status = :status!, content = coalesce(:content, content) WHERE id = :id! RETURNING *;

/* @name DocumentsOfUser */
SELECT * FROM workspace.documents WHERE user_id = :userId! ORDER BY updated_at DESC, id LIMIT :limit!;
