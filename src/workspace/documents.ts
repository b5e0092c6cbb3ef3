/** Document templates (the organisation's and system ones) and the documents users generate from them. */
import { z } from "zod";
import { NotFoundError, ValidationError } from "../db/errors";
import { many, one } from "../db/rows";
import { actingUser, operation, recordAudit, word } from "./context";
import type { IInsertDocumentResult } from "./queries/documents.queries";
import { sql } from "./sql";

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

/** A document template of the organisation. */
export const createTemplate = operation({
  name: "workspace.template.create",
  input: z.object({ name: z.string().trim().min(1).max(255), documentType, outline: outline.optional(), instructions: z.string().max(50_000).optional() }),
  kind: "write",
  affects: "organization",
  permission: "templates:create",
  context: "user",
  reveals: "tenant",
  audit: "change",
  async run(p, { c, ctx }) {
    const t = await one(sql.documents.insertTemplate, { organizationId: ctx.organizationId, ...p }, c);
    await recordAudit(c, ctx, {
      action: "template.created",
      resourceType: "document_template",
      resourceId: t.id,
      newValue: { name: t.name, document_type: t.document_type },
    });
    return t;
  },
});

/** The organisation's templates followed by the system ones, optionally of one document type. */
export const listTemplates = operation({
  name: "workspace.template.list",
  input: z.object({ documentType: documentType.optional() }),
  kind: "read",
  context: "tenant",
  reveals: "tenant",
  audit: "none",
  oneStatement: true,
  run: (p, { c }) => many(sql.documents.listTemplates, p, c),
});

/**
 * A draft document of the acting user; its outline defaults to the template's. The template must be one the
 * organisation sees (its own or a system one) and the context memories the user's own live ones, else
 * NotFoundError; row-level security refuses such references from hand-written SQL too.
 */
export const createDocument = operation({
  name: "workspace.document.create",
  input: z.object({
    documentType,
    title: z.string().trim().min(1).max(500),
    content: z.string().max(1_000_000).optional(),
    outline: outline.optional(),
    templateId: z.uuid().optional(),
    contextMemoryIds: z.array(z.uuid()).max(1000).optional(),
  }),
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "own",
  audit: "change",
  async run(p, { c, ctx }): Promise<Document> {
    const userId = actingUser(ctx);
    if (p.templateId !== undefined || p.contextMemoryIds?.length) {
      const refs = await one(sql.documents.documentReferences, p, c);
      if (!refs.template_visible) throw new NotFoundError("templateId: template not found");
      if (refs.missing_memory_ids.length) throw new NotFoundError(`contextMemoryIds: ${refs.missing_memory_ids.length} of the memories not found`);
    }
    const d = await one(sql.documents.insertDocument, { userId, ...p }, c);
    await recordAudit(c, ctx, { action: "document.created", resourceType: "document", resourceId: d.id, newValue: { document_type: d.document_type } });
    return d;
  },
});

/** Move a document along its lifecycle (see DOCUMENT_TRANSITIONS), optionally storing generated content. */
export const updateDocumentStatus = operation({
  name: "workspace.document.status",
  input: z.object({ id: z.uuid(), status: z.enum(["draft", "generating", "ready", "exported"]), content: z.string().max(1_000_000).optional() }),
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "own",
  audit: "change",
  async run(p, { c, ctx }): Promise<Document> {
    const current = await one(sql.documents.getDocumentForUpdate, p, c, "document not found");
    const from = current.status as DocumentStatus;
    if (from !== p.status && !DOCUMENT_TRANSITIONS[from].includes(p.status))
      throw new ValidationError(`invalid status: a ${from} document cannot become ${p.status}`, ["status"]);
    const d = await one(sql.documents.updateDocument, p, c);
    if (from !== p.status) {
      await recordAudit(c, ctx, {
        action: "document.status_changed",
        resourceType: "document",
        resourceId: p.id,
        oldValue: { status: from },
        newValue: { status: p.status },
      });
    }
    return d;
  },
});

/** The acting user's documents, newest first. */
export const documentsOfUser = operation({
  name: "workspace.document.list",
  input: z.object({ limit: z.number().int().min(1).max(500).default(50) }),
  kind: "read",
  context: "user",
  reveals: "own",
  audit: "none",
  oneStatement: true,
  run: (p, { c, ctx }) => many(sql.documents.documentsOfUser, { userId: actingUser(ctx), ...p }, c),
});
