/**
 * Conversations (direct, group, ai_chat), participants, messages, unread counts and message search. All
 * organisation-scoped: RLS shows a conversation, its participants and messages only inside its organisation,
 * participants must be members of it, and a message's sender is the acting user (or NULL for AI/system).
 */
import type pg from "pg";
import { z } from "zod";
import type { Db } from "../db/connect";
import { ForbiddenError, NotFoundError, ValidationError } from "../db/errors";
import { timestamp } from "../db/validate";
import { actingUser, recordAudit, runField, runParsed, type WorkspaceContext } from "./context";
import {
  addParticipants,
  conversationForMember,
  type IInsertConversationResult,
  type IPostMessageResult,
  insertConversation,
  listMessages,
  listParticipants,
  markRead,
  postMessage,
  searchMessages,
  unreadCounts,
} from "./queries/conversations.queries";

export type Conversation = IInsertConversationResult;
export type Message = IPostMessageResult;

const conversationSchema = z
  .object({
    type: z.enum(["direct", "group", "ai_chat"]),
    name: z.string().trim().min(1).max(255).optional(),
    description: z.string().max(10_000).optional(),
    isPrivate: z.boolean().optional(),
    /** Other members; the acting user joins as owner. */
    participantIds: z.array(z.uuid()).max(1000).default([]),
  })
  .superRefine((c, x) => {
    if (c.type === "direct" && c.participantIds.length !== 1)
      x.addIssue({ code: "custom", path: ["participantIds"], message: "a direct conversation has exactly one other participant" });
    if (c.type === "ai_chat" && c.participantIds.length !== 0)
      x.addIssue({ code: "custom", path: ["participantIds"], message: "an ai_chat conversation has no other participants" });
    if (c.type === "group" && !c.name) x.addIssue({ code: "custom", path: ["name"], message: "a group conversation needs a name" });
  });
export type NewConversation = z.input<typeof conversationSchema>;

/** Start a conversation with the acting user as owner and the others as members. */
export async function createConversation(db: Db, ctx: WorkspaceContext, input: NewConversation): Promise<Conversation> {
  return runParsed(db, ctx, "conversation.create", conversationSchema, input, async (p, c) => {
    const me = actingUser(ctx);
    const [conv] = await insertConversation.run(
      { organizationId: ctx.organizationId, type: p.type, name: p.name ?? null, description: p.description ?? null, isPrivate: p.isPrivate ?? null, createdBy: me },
      c,
    );
    const others = [...new Set(p.participantIds)].filter((id) => id !== me);
    await addParticipants.run(
      { participants: [{ conversationId: conv!.id, userId: me, role: "owner" }, ...others.map((userId) => ({ conversationId: conv!.id, userId, role: "member" }))] },
      c,
    );
    await recordAudit(c, ctx, { action: "conversation.created", resourceType: "conversation", resourceId: conv!.id, newValue: { type: p.type, participants: others.length + 1 } });
    return conv!;
  });
}

/** The live conversation (visible to the organisation) and `userId`'s role in it; NotFoundError otherwise. */
async function conversationFor(c: pg.ClientBase, conversationId: string, userId: string | null) {
  const [conv] = await conversationForMember.run({ id: conversationId, userId }, c);
  if (!conv) throw new NotFoundError("conversation not found");
  return conv;
}

/** The conversation, if the user takes part in it (with one of `roles`, when given); else a typed error. */
async function membership(c: pg.ClientBase, conversationId: string, userId: string, roles?: string[]) {
  const conv = await conversationFor(c, conversationId, userId);
  if (!conv.member_role) throw new ForbiddenError("the acting user is not a participant of this conversation");
  if (roles && !roles.includes(conv.member_role)) throw new ForbiddenError(`needs the ${roles.join(" or ")} role in this conversation`);
  return conv;
}

/**
 * The conversation, if the acting user may read it: a private conversation (the default) only by its
 * participants, an open one by every member of the organisation. Another organisation's is not found.
 */
export async function readableConversation(c: pg.ClientBase, conversationId: string, ctx: WorkspaceContext) {
  const conv = await conversationFor(c, conversationId, ctx.userId ?? null);
  if (conv.is_private && !conv.member_role) throw new ForbiddenError("this conversation is private to its participants");
  return conv;
}

const joinSchema = z.object({ conversationId: z.uuid(), userIds: z.array(z.uuid()).min(1).max(1000), role: z.enum(["admin", "member"]).default("member") });

/** Add members to a group conversation; members already in it are left as they are. */
export async function addMembers(db: Db, ctx: WorkspaceContext, input: z.input<typeof joinSchema>) {
  return runParsed(db, ctx, "conversation.join", joinSchema, input, async (p, c) => {
    const conv = await membership(c, p.conversationId, actingUser(ctx), ["owner", "admin"]);
    if (conv.type !== "group") throw new ValidationError(`only group conversations take new members (this one is ${conv.type})`, ["conversationId"]);
    const added = await addParticipants.run({ participants: [...new Set(p.userIds)].map((userId) => ({ conversationId: p.conversationId, userId, role: p.role })) }, c);
    await recordAudit(c, ctx, { action: "conversation.joined", resourceType: "conversation", resourceId: p.conversationId, newValue: { added: added.map((a) => a.user_id) } });
    return added;
  });
}

/** The participants of a conversation the acting user may read (see readableConversation). */
export async function participantsOf(db: Db, ctx: WorkspaceContext, conversationId: string) {
  return runField(db, ctx, "conversation.participants", "conversationId", z.uuid(), conversationId, async (id, c) => {
    await readableConversation(c, id, ctx);
    return listParticipants.run({ conversationId: id }, c);
  }, { readOnly: true });
}

const messageSchema = z.object({
  conversationId: z.uuid(),
  content: z.string().min(1).max(50_000),
  contentType: z.enum(["text", "file", "system", "ai"]).default("text"),
  /** An AI response: stored without a sender, with the model that wrote it. */
  aiModel: z.string().min(1).max(100).optional(),
});
export type NewMessage = z.input<typeof messageSchema>;

/** Post a message as the acting user (or, with aiModel, as the assistant) and move last_message_at. */
export async function sendMessage(db: Db, ctx: WorkspaceContext, input: NewMessage): Promise<Message> {
  return runParsed(db, ctx, "message.send", messageSchema, input, async (p, c) => {
    const ai = p.aiModel !== undefined;
    if (!ai || ctx.userId) await membership(c, p.conversationId, actingUser(ctx));
    const [m] = await postMessage.run(
      {
        conversationId: p.conversationId,
        senderId: ai ? null : actingUser(ctx),
        content: p.content,
        contentType: ai ? "ai" : p.contentType,
        isAiResponse: ai,
        aiModel: p.aiModel ?? null,
      },
      c,
    );
    return m!;
  });
}

const pageSchema = z.object({ conversationId: z.uuid(), before: timestamp.optional(), limit: z.number().int().min(1).max(500).default(50) });

/**
 * A page of messages of a conversation the acting user may read (see readableConversation), newest first;
 * pass the oldest created_at as `before` for the next page.
 */
export async function messagesOf(db: Db, ctx: WorkspaceContext, input: z.input<typeof pageSchema>) {
  return runParsed(db, ctx, "message.list", pageSchema, input, async (p, c) => {
    await readableConversation(c, p.conversationId, ctx);
    return listMessages.run({ conversationId: p.conversationId, before: p.before ?? null, limit: p.limit }, c);
  }, { readOnly: true });
}

/** Mark the conversation read up to `at` (default now) for the acting user; the read position never moves back. */
export async function markConversationRead(db: Db, ctx: WorkspaceContext, conversationId: string, at?: Date): Promise<Date> {
  return runParsed(db, ctx, "conversation.read", z.object({ conversationId: z.uuid(), at: timestamp.optional() }), { conversationId, at }, async (p, c) => {
    const [row] = await markRead.run({ conversationId: p.conversationId, userId: actingUser(ctx), at: p.at ?? null }, c);
    if (!row?.last_read_at) throw new NotFoundError("not a participant of this conversation");
    return row.last_read_at;
  });
}

/** Unread messages per conversation of the acting user: messages from others after their last_read_at. */
export async function unreadCountsOf(db: Db, ctx: WorkspaceContext): Promise<Map<string, number>> {
  return runParsed(db, ctx, "conversation.unread", z.object({}), {}, async (_p, c) => {
    const rows = await unreadCounts.run({ userId: actingUser(ctx) }, c);
    return new Map(rows.map((r) => [r.conversation_id, r.unread]));
  }, { readOnly: true });
}

const searchSchema = z.object({ query: z.string().trim().min(1).max(1000), limit: z.number().int().min(1).max(200).default(20) });

/** Full-text search over the messages of the acting user's conversations (English stemming, web-search syntax). */
export async function searchMessagesIn(db: Db, ctx: WorkspaceContext, input: z.input<typeof searchSchema>) {
  return runParsed(db, ctx, "message.search", searchSchema, input, (p, c) => searchMessages.run({ userId: actingUser(ctx), ...p }, c), { readOnly: true });
}
