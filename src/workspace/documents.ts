/** Document templates (the organisation's and system ones) and the documents users generate from them. */
import { z } from "zod";
import type { Db } from "../db/connect";
import { NotFoundError, ValidationError } from "../db/errors";
import { actingUser, recordAudit, runField, runParsed, type WorkspaceContext, word } from "./context";
import { documentReferences, documentsOfUser, getDocumentForUpdate, type IInsertDocumentResult, insertDocument, insertTemplate, listTemplates, updateDocument } from "./queries/documents.queries";

export type Document = IInsertDocumentResult;
export type DocumentStatus = "draft" | "generating" | "ready" | "exported";
const documentType = word;
const outline = z.array(z.string().min(1).max(1000)).max(200);

/** Allowed status changes: draft -> generating -> ready -> exported; generation may fail back to draft. */
export const DOCUMENT_TRANSITIONS: Record<DocumentStatus, readonly DocumentStatus[]> = {
  draft: ["generating", "ready"],
  generating: ["ready", "draft"],
  ready: ["exported", "draft", "generating"],
  exported: ["draft"],
};

const templateSchema = z.object({ name: z.string().trim().min(1).max(255), documentType, outline: outline.optional(), instructions: z.string().max(50_000).optional() });

export async function createTemplate(db: Db, ctx: WorkspaceContext, input: z.input<typeof templateSchema>) {
  return runParsed(db, ctx, "template.create", templateSchema, input, async (p, c) => {
    const [t] = await insertTemplate.run({ organizationId: ctx.organizationId, ...p, outline: p.outline ?? null, instructions: p.instructions ?? null }, c);
    await recordAudit(c, ctx, { action: "template.created", resourceType: "document_template", resourceId: t!.id, newValue: { name: t!.name, document_type: t!.document_type } });
    return t!;
  });
}

/** The organisation's templates followed by the system ones, optionally of one document type. */
export async function templatesFor(db: Db, ctx: WorkspaceContext, type?: string) {
  return runField(db, ctx, "template.list", "documentType", documentType.optional(), type, (t, c) => listTemplates.run({ documentType: t ?? null }, c), { readOnly: true });
}

const documentSchema = z.object({
  documentType,
  title: z.string().trim().min(1).max(500),
  content: z.string().max(1_000_000).optional(),
  outline: outline.optional(),
  templateId: z.uuid().optional(),
  contextMemoryIds: z.array(z.uuid()).max(1000).optional(),
});

/**
 * A draft document of the acting user; its outline defaults to the template's. The template must be one the
 * organisation sees (its own or a system one) and the context memories the user's own live ones, else
 * NotFoundError; row-level security refuses such references from hand-written SQL too.
 */
export async function createDocument(db: Db, ctx: WorkspaceContext, input: z.input<typeof documentSchema>): Promise<Document> {
  return runParsed(db, ctx, "document.create", documentSchema, input, async (p, c) => {
    const userId = actingUser(ctx);
    if (p.templateId !== undefined || p.contextMemoryIds?.length) {
      const [refs] = await documentReferences.run({ templateId: p.templateId ?? null, contextMemoryIds: p.contextMemoryIds ?? null }, c);
      if (!refs!.template_visible) throw new NotFoundError("templateId: template not found");
      if (refs!.missing_memory_ids.length) throw new NotFoundError(`contextMemoryIds: ${refs!.missing_memory_ids.length} of the memories not found`);
    }
    const [d] = await insertDocument.run(
      {
        userId,
        documentType: p.documentType,
        title: p.title,
        content: p.content ?? null,
        outline: p.outline ?? null,
        templateId: p.templateId ?? null,
        contextMemoryIds: p.contextMemoryIds ?? null,
      },
      c,
    );
    await recordAudit(c, ctx, { action: "document.created", resourceType: "document", resourceId: d!.id, newValue: { document_type: d!.document_type } });
    return d!;
  });
}

const updateSchema = z.object({ id: z.uuid(), status: z.enum(["draft", "generating", "ready", "exported"]), content: z.string().max(1_000_000).optional() });

/** Move a document along its lifecycle (see DOCUMENT_TRANSITIONS), optionally storing generated content. */
export async function updateDocumentStatus(db: Db, ctx: WorkspaceContext, input: z.input<typeof updateSchema>): Promise<Document> {
  return runParsed(db, ctx, "document.status", updateSchema, input, async (p, c) => {
    actingUser(ctx);
    const [current] = await getDocumentForUpdate.run({ id: p.id }, c);
    if (!current) throw new NotFoundError("document not found");
    const from = current.status as DocumentStatus;
    if (from !== p.status && !DOCUMENT_TRANSITIONS[from].includes(p.status)) throw new ValidationError(`invalid status: a ${from} document cannot become ${p.status}`, ["status"]);
    const [d] = await updateDocument.run({ id: p.id, status: p.status, content: p.content ?? null }, c);
    if (from !== p.status) {
      await recordAudit(c, ctx, { action: "document.status_changed", resourceType: "document", resourceId: p.id, oldValue: { status: from }, newValue: { status: p.status } });
    }
    return d!;
  });
}

export async function documentsOf(db: Db, ctx: WorkspaceContext, limit = 50) {
  return runField(db, ctx, "document.list", "limit", z.number().int().min(1).max(500), limit, (n, c) => documentsOfUser.run({ userId: actingUser(ctx), limit: n }, c), {
    readOnly: true,
  });
}
