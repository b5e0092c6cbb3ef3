/**
 * Conversations (direct, group, ai_chat), participants, messages, unread counts and message search. All
 * organisation-scoped: RLS shows a conversation, its participants and messages only inside its organisation,
 * participants must be members of it, and a message's sender is the acting user (or NULL for AI/system).
 */
import type pg from "pg";
import { z } from "zod";
import { ConflictError, ForbiddenError, mapDbError, NotFoundError, ValidationError } from "../db/errors";
import { many, maybeOne, one } from "../db/rows";
import { timestamp } from "../db/validate";
import { actingUser, operation, recordAudit, type WorkspaceContext } from "./context";
import type { IInsertConversationResult, IPostMessageResult } from "./queries/conversations.queries";
import { sql } from "./sql";

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
export const createConversation = operation({
  name: "workspace.conversation.create",
  input: conversationSchema,
  kind: "write",
  affects: "tenant",
  context: "user",
  reveals: "tenant",
  audit: "change",
  async run(p, { c, ctx }): Promise<Conversation> {
    const me = actingUser(ctx);
    const conv = await one(sql.conversations.insertConversation, { organizationId: ctx.organizationId, ...p, createdBy: me }, c);
    const others = [...new Set(p.participantIds)].filter((id) => id !== me);
    await many(
      sql.conversations.addParticipants,
      {
        participants: [
          { conversationId: conv.id, userId: me, role: "owner" },
          ...others.map((userId) => ({ conversationId: conv.id, userId, role: "member" })),
        ],
      },
      c,
    );
    await recordAudit(c, ctx, {
      action: "conversation.created",
      resourceType: "conversation",
      resourceId: conv.id,
      newValue: { type: p.type, participants: others.length + 1 },
    });
    return conv;
  },
});

/** The live conversation (visible to the organisation) and `userId`'s role in it; NotFoundError otherwise. */
function conversationFor(c: pg.ClientBase, conversationId: string, userId: string | null) {
  return one(sql.conversations.conversationForMember, { id: conversationId, userId }, c, "conversation not found");
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

const conversationId = z.object({ conversationId: z.uuid() });

/** Add members to a group conversation; members already in it are left as they are. */
export const addMembers = operation({
  name: "workspace.conversation.join",
  input: conversationId.extend({ userIds: z.array(z.uuid()).min(1).max(1000), role: z.enum(["admin", "member"]).default("member") }),
  kind: "write",
  affects: "tenant",
  context: "user",
  reveals: "tenant",
  audit: "change",
  async run(p, { c, ctx }) {
    const conv = await membership(c, p.conversationId, actingUser(ctx), ["owner", "admin"]);
    if (conv.type !== "group") throw new ValidationError(`only group conversations take new members (this one is ${conv.type})`, ["conversationId"]);
    const added = await many(
      sql.conversations.addParticipants,
      { participants: [...new Set(p.userIds)].map((userId) => ({ conversationId: p.conversationId, userId, role: p.role })) },
      c,
    );
    await recordAudit(c, ctx, {
      action: "conversation.joined",
      resourceType: "conversation",
      resourceId: p.conversationId,
      newValue: { added: added.map((a) => a.user_id) },
    });
    return added;
  },
});

/** The participants of a conversation the acting user may read (see readableConversation). */
export const participantsOf = operation({
  name: "workspace.conversation.participants",
  input: conversationId,
  kind: "read",
  context: "tenant",
  reveals: "tenant",
  audit: "none",
  async run(p, { c, ctx }) {
    await readableConversation(c, p.conversationId, ctx);
    return many(sql.conversations.listParticipants, p, c);
  },
});

/** Post a message as the acting user (or, with aiModel, as the assistant) and move last_message_at. */
export const sendMessage = operation({
  name: "workspace.message.send",
  input: conversationId.extend({
    content: z.string().min(1).max(50_000),
    contentType: z.enum(["text", "file", "system", "ai"]).default("text"),
    /** An AI response: stored without a sender, with the model that wrote it. */
    aiModel: z.string().min(1).max(100).optional(),
  }),
  kind: "write",
  affects: "tenant",
  context: "tenant",
  reveals: "tenant",
  audit: "none",
  async run(p, { c, ctx }): Promise<Message> {
    const ai = p.aiModel !== undefined;
    if (!ai || ctx.userId) await membership(c, p.conversationId, actingUser(ctx));
    return one(
      sql.conversations.postMessage,
      {
        conversationId: p.conversationId,
        senderId: ai ? null : actingUser(ctx),
        content: p.content,
        contentType: ai ? "ai" : p.contentType,
        isAiResponse: ai,
        aiModel: p.aiModel,
      },
      c,
    );
  },
});
export type NewMessage = z.input<typeof sendMessage.declaration.input>;

/**
 * A page of messages of a conversation the acting user may read (see readableConversation), newest first;
 * pass the oldest created_at as `before` for the next page.
 */
export const messagesOf = operation({
  name: "workspace.message.list",
  input: conversationId.extend({ before: timestamp.optional(), limit: z.number().int().min(1).max(500).default(50) }),
  kind: "read",
  context: "tenant",
  reveals: "tenant",
  audit: "none",
  async run(p, { c, ctx }) {
    await readableConversation(c, p.conversationId, ctx);
    return many(sql.conversations.listMessages, p, c);
  },
});

/** Mark the conversation read up to `at` (default now) for the acting user; the read position never moves back. */
export const markConversationRead = operation({
  name: "workspace.conversation.read",
  input: conversationId.extend({ at: timestamp.optional() }),
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "nothing",
  audit: "none",
  async run(p, { c, ctx }): Promise<Date> {
    const row = await one(sql.conversations.markRead, { ...p, userId: actingUser(ctx) }, c, "not a participant of this conversation");
    if (!row.last_read_at) throw new NotFoundError("not a participant of this conversation");
    return row.last_read_at;
  },
});

/** Unread messages per conversation of the acting user: messages from others after their last_read_at. */
export const unreadCounts = operation({
  name: "workspace.conversation.unread",
  input: z.object({}),
  kind: "read",
  context: "user",
  reveals: "own",
  audit: "none",
  oneStatement: true,
  async run(_p, { c, ctx }): Promise<Map<string, number>> {
    const rows = await many(sql.conversations.unreadCounts, { userId: actingUser(ctx) }, c);
    return new Map(rows.map((r) => [r.conversation_id, r.unread]));
  },
});

/** Full-text search over the messages of the acting user's conversations (English stemming, web-search syntax). */
export const searchMessages = operation({
  name: "workspace.message.search",
  input: z.object({ query: z.string().trim().min(1).max(1000), limit: z.number().int().min(1).max(200).default(20) }),
  kind: "read",
  context: "user",
  reveals: "tenant",
  audit: "none",
  oneStatement: true,
  run: (p, { c, ctx }) => many(sql.conversations.searchMessages, { userId: actingUser(ctx), ...p }, c),
});

const messageId = z.object({ messageId: z.uuid() });

/** The live message the acting user can see and their role in its conversation; NotFoundError otherwise. */
const visibleMessage = (c: pg.ClientBase, id: string, userId: string) => one(sql.conversations.messageForActor, { id, userId }, c, "message not found");

/** Edit one of the acting user's own messages: new content, `is_edited` and `edited_at` set. Only the sender. */
export const editMessage = operation({
  name: "workspace.message.edit",
  input: messageId.extend({ content: z.string().min(1).max(50_000) }),
  kind: "write",
  affects: "tenant",
  context: "user",
  reveals: "tenant",
  audit: "change",
  async run(p, { c, ctx }): Promise<Message> {
    const me = actingUser(ctx);
    const m = await maybeOne(sql.conversations.editMessage, { id: p.messageId, userId: me, content: p.content }, c);
    if (!m) {
      await visibleMessage(c, p.messageId, me);
      throw new ForbiddenError("only the sender edits a message");
    }
    // The trail says which message changed, never its text.
    await recordAudit(c, ctx, { action: "message.edited", resourceType: "message", resourceId: m.id, metadata: { conversation_id: m.conversation_id } });
    return m;
  },
});

/**
 * Delete a message (soft): `deleted_at` set and the content blanked in the same statement, so it leaves
 * reads, unread counts and search at once. Only its sender, or an owner or admin of the conversation.
 */
export const deleteMessage = operation({
  name: "workspace.message.delete",
  input: messageId,
  kind: "write",
  affects: "tenant",
  context: "user",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx }): Promise<void> {
    const me = actingUser(ctx);
    const m = await maybeOne(sql.conversations.deleteMessage, { id: p.messageId, userId: me }, c);
    if (!m) {
      await visibleMessage(c, p.messageId, me);
      throw new ForbiddenError("only the sender or an owner or admin of the conversation deletes a message");
    }
    await recordAudit(c, ctx, {
      action: "message.deleted",
      resourceType: "message",
      resourceId: m.id,
      metadata: { conversation_id: m.conversation_id, by_sender: m.sender_id === me },
    });
  },
});

/**
 * A recipient says a message was delivered or read. The status only moves forward (sent -> delivered ->
 * read): asking for an earlier one than the message has leaves it as it is (the result says which it is).
 * Only a participant other than the sender.
 */
export const setMessageStatus = operation({
  name: "workspace.message.status",
  input: messageId.extend({ status: z.enum(["delivered", "read"]) }),
  kind: "write",
  affects: "tenant",
  context: "user",
  reveals: "nothing",
  audit: "none",
  async run(p, { c, ctx }): Promise<{ id: string; status: string }> {
    const me = actingUser(ctx);
    const m = await maybeOne(sql.conversations.advanceMessageStatus, { id: p.messageId, userId: me, status: p.status }, c);
    if (m) return { id: m.id, status: m.status };
    const seen = await visibleMessage(c, p.messageId, me);
    throw new ForbiddenError(
      seen.sender_id === me ? "the sender does not set the delivery status of their own message" : "the acting user is not a participant of this conversation",
    );
  },
});

/** The rule a group conversation keeps (and the constraint the database names for it). */
export const KEEPS_AN_ADMIN = "conversation_keeps_an_admin";
const lastAdmin = (sqlstate?: string) =>
  new ConflictError(`the last owner or admin of a group conversation cannot leave it before handing over (${KEEPS_AN_ADMIN})`, {
    sqlstate,
    constraint: KEEPS_AN_ADMIN,
  });

/**
 * Leave a conversation: the acting user removes themself. The last owner or admin of a group that has
 * other participants cannot leave before handing over (a ConflictError naming conversation_keeps_an_admin;
 * trigger keep_a_conversation_admin holds it for SQL as `app` too). The conversation row is locked, so two
 * last admins leaving at once queue and the second is refused.
 */
export const leaveConversation = operation({
  name: "workspace.conversation.leave",
  input: conversationId,
  kind: "write",
  affects: "tenant",
  context: "user",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx }): Promise<void> {
    const me = actingUser(ctx);
    const conv = await one(sql.conversations.lockConversationForMember, { id: p.conversationId, userId: me }, c, "conversation not found");
    if (!conv.member_role) throw new NotFoundError("not a participant of this conversation");
    if (conv.type === "group" && ["owner", "admin"].includes(conv.member_role)) {
      const others = await many(sql.conversations.otherParticipantRoles, { conversationId: p.conversationId, userId: me }, c);
      if (others.length && !others.some((o) => o.role === "owner" || o.role === "admin")) throw lastAdmin();
    }
    try {
      await one(sql.conversations.removeParticipant, { conversationId: p.conversationId, userId: me }, c);
    } catch (e) {
      // The database's own check (trigger keep_a_conversation_admin): the same error, in the same words.
      const mapped = mapDbError(e);
      if (mapped instanceof ConflictError && mapped.constraint === KEEPS_AN_ADMIN) throw lastAdmin(mapped.sqlstate);
      throw e;
    }
    await recordAudit(c, ctx, {
      action: "conversation.left",
      resourceType: "conversation",
      resourceId: p.conversationId,
      oldValue: { role: conv.member_role },
    });
  },
});
