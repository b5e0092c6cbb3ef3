/**
 * Issue 19: the operations a workspace record needs over its whole life, beyond create and read: editing,
 * deleting and acknowledging messages (editMessage, deleteMessage, setMessageStatus), editing memories
 * (editMemory) and tasks (editTask), leaving a conversation (leaveConversation), the organisation's plan
 * and deletion (setOrganizationPlan, deleteOrganization: platform operations), and sync batches that carry
 * tombstones. Each is checked through the service, for its audit row and, where hand-written SQL as `app`
 * could get round the service, with that SQL too.
 */
import crypto from "node:crypto";
import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../../src/db/errors";
import { platformContext } from "../../src/db/operation";
import { setLocalTenant } from "../../src/db/tx";
import * as ws from "../../src/workspace";
import { describeServer, SERVER_ONLY_REASON, useTestDb } from "../support/db";
import { inSavepoint } from "../support/probe";
import { makeOrg, type Org, randomVector, rng } from "./fixtures";

const t = useTestDb();
let org: Org; // users[0] owner, [1] [2] [3] members
let other: Org;
const P = platformContext({ actorId: crypto.randomUUID() });

/** Hand-written SQL as `app` in a user's context: its row count or its typed error. */
const sqlAs = (o: Org, i: number, sql: string, params: unknown[] = []) =>
  t.db.tenant({ tenantId: o.id, userId: o.users[i]!.id }, (c: pg.PoolClient) => inSavepoint(c, sql, params));
/** The organisation's audit rows with this action, read as the owner (also after the organisation is gone). */
const trail = (organizationId: string, action: string) =>
  t.db.transaction(async (c) => {
    await setLocalTenant(c, organizationId);
    return (
      await c.query(
        "SELECT user_id, resource_id, old_value, new_value, metadata FROM workspace.audit_logs WHERE organization_id = $1 AND action = $2 ORDER BY timestamp",
        [organizationId, action],
      )
    ).rows;
  });
const row = async (sql: string, params: unknown[]) => (await t.db.pool.query(sql, params)).rows[0];

beforeAll(async () => {
  org = await makeOrg(t.db, 4, "life");
  other = await makeOrg(t.db, 1, "life-other");
});

describe("messages: edit, delete, delivery and read status", () => {
  let conv: ws.Conversation;
  beforeAll(async () => {
    conv = await ws.createConversation(t.db, org.as(0), { type: "group", name: "g", participantIds: [org.users[1]!.id, org.users[2]!.id] });
  });

  it("the sender edits their message: is_edited and edited_at set; nobody else may, through the service or by hand", async () => {
    const m = await ws.sendMessage(t.db, org.as(1), { conversationId: conv.id, content: "draft words" });
    expect(m).toMatchObject({ is_edited: false, edited_at: null });
    const e = await ws.editMessage(t.db, org.as(1), { messageId: m.id, content: "final words" });
    expect(e).toMatchObject({ id: m.id, content: "final words", is_edited: true });
    expect(e.edited_at).toBeInstanceOf(Date);
    expect(await ws.searchMessages(t.db, org.as(2), { query: "final" })).toHaveLength(1);
    // Another participant (the conversation's owner included) may not; another organisation does not see it.
    await expect(ws.editMessage(t.db, org.as(0), { messageId: m.id, content: "x" })).rejects.toBeInstanceOf(ForbiddenError);
    await expect(ws.editMessage(t.db, other.as(0), { messageId: m.id, content: "x" })).rejects.toBeInstanceOf(NotFoundError);
    const byHand = await sqlAs(org, 2, "UPDATE workspace.messages SET content = 'forged' WHERE id = $1", [m.id]);
    expect("error" in byHand && byHand.error).toBeInstanceOf(ForbiddenError);
    // The conversation and sender of a message never change for `app`: no privilege on those columns.
    const moved = await sqlAs(org, 1, "UPDATE workspace.messages SET sender_id = NULL WHERE id = $1", [m.id]);
    expect("error" in moved && (moved.error as Error).message).toMatch(/permission denied/);
    const [audit] = await trail(org.id, "message.edited");
    expect(audit).toMatchObject({ user_id: org.users[1]!.id, resource_id: m.id, metadata: { conversation_id: conv.id } });
    expect(JSON.stringify(audit)).not.toContain("final words");
  });

  it("delete is soft: deleted_at set, content blanked, gone from reads, unread counts and search; by the sender or a conversation owner/admin only", async () => {
    const mine = await ws.sendMessage(t.db, org.as(2), { conversationId: conv.id, content: "zebra crossing" });
    const theirs = await ws.sendMessage(t.db, org.as(2), { conversationId: conv.id, content: "zebra stripes" });
    const unread = (await ws.unreadCounts(t.db, org.as(1))).get(conv.id)!;
    // A plain member who did not send it may not delete it.
    await expect(ws.deleteMessage(t.db, org.as(1), { messageId: mine.id })).rejects.toBeInstanceOf(ForbiddenError);
    await ws.deleteMessage(t.db, org.as(2), { messageId: mine.id }); // the sender
    await ws.deleteMessage(t.db, org.as(0), { messageId: theirs.id }); // the conversation's owner
    expect(await row("SELECT content, deleted_at IS NOT NULL AS deleted FROM workspace.messages WHERE id = $1", [mine.id])).toEqual({
      content: "",
      deleted: true,
    });
    const ids = (await ws.messagesOf(t.db, org.as(1), { conversationId: conv.id })).map((x) => x.id);
    expect(ids).not.toContain(mine.id);
    expect(ids).not.toContain(theirs.id);
    expect(await ws.searchMessages(t.db, org.as(1), { query: "zebra" })).toEqual([]);
    expect((await ws.unreadCounts(t.db, org.as(1))).get(conv.id)).toBe(unread - 2);
    // Deleted is final: deleting, editing or acknowledging it again is not found; by hand it changes no more.
    await expect(ws.deleteMessage(t.db, org.as(2), { messageId: mine.id })).rejects.toBeInstanceOf(NotFoundError);
    await expect(ws.editMessage(t.db, org.as(2), { messageId: mine.id, content: "back" })).rejects.toBeInstanceOf(NotFoundError);
    const undelete = await sqlAs(org, 2, "UPDATE workspace.messages SET deleted_at = NULL WHERE id = $1", [mine.id]);
    expect("error" in undelete && undelete.error).toBeInstanceOf(ValidationError);
    expect((await trail(org.id, "message.deleted")).map((r) => r.metadata.by_sender)).toEqual([true, false]);
  });

  it("status: a recipient moves it forward only (sent, delivered, read); the sender may not; a move back leaves it, and is refused by hand", async () => {
    const m = await ws.sendMessage(t.db, org.as(0), { conversationId: conv.id, content: "status?" });
    expect(m.status).toBe("sent");
    expect(await ws.setMessageStatus(t.db, org.as(1), { messageId: m.id, status: "delivered" })).toEqual({ id: m.id, status: "delivered" });
    expect(await ws.setMessageStatus(t.db, org.as(2), { messageId: m.id, status: "read" })).toEqual({ id: m.id, status: "read" });
    expect(await ws.setMessageStatus(t.db, org.as(1), { messageId: m.id, status: "delivered" })).toEqual({ id: m.id, status: "read" });
    await expect(ws.setMessageStatus(t.db, org.as(0), { messageId: m.id, status: "read" })).rejects.toBeInstanceOf(ForbiddenError); // the sender
    await expect(ws.setMessageStatus(t.db, org.as(3), { messageId: m.id, status: "read" })).rejects.toBeInstanceOf(NotFoundError); // not a participant of a private one
    const back = await sqlAs(org, 1, "UPDATE workspace.messages SET status = 'sent' WHERE id = $1", [m.id]);
    expect("error" in back && (back.error as ValidationError).constraint).toBe("messages_status_forward");
    const senderByHand = await sqlAs(org, 0, "UPDATE workspace.messages SET status = 'read' WHERE id = $1", [m.id]);
    expect("rowCount" in senderByHand && senderByHand.rowCount).toBe(1); // unchanged status: nothing to refuse
    const m2 = await ws.sendMessage(t.db, org.as(0), { conversationId: conv.id, content: "again" });
    const sender2 = await sqlAs(org, 0, "UPDATE workspace.messages SET status = 'read' WHERE id = $1", [m2.id]);
    expect("error" in sender2 && sender2.error).toBeInstanceOf(ForbiddenError);
  });
});

describe("memories: edit", () => {
  it("content, title and tags change; a new text sends the embedding back to pending and clears it in the same statement; a tags-only edit keeps it", async () => {
    const m = await ws.createMemory(t.db, org.as(1), { content: "old text", title: "old", tags: ["a"] });
    await ws.setEmbedding(t.db, org.as(1), { id: m.id, status: "completed", embedding: randomVector(rng(5)), model: "m1" });
    const tagged = await ws.editMemory(t.db, org.as(1), { id: m.id, tags: ["a", "b"] });
    expect(tagged).toMatchObject({ tags: ["a", "b"], embedding_status: "completed", embedding_model: "m1" });
    const e = await ws.editMemory(t.db, org.as(1), { id: m.id, content: "new text", title: null });
    expect(e).toMatchObject({
      content: "new text",
      title: null,
      tags: ["a", "b"],
      embedding_status: "pending",
      embedding_model: null,
      embedding_updated_at: null,
    });
    expect(await row("SELECT embedding IS NULL AS cleared FROM workspace.memories WHERE id = $1", [m.id])).toEqual({ cleared: true });
    expect((await ws.keywordSearchMemories(t.db, org.as(1), { query: "new" })).map((x) => x.id)).toEqual([m.id]);
    // Only its owner: another member (and another organisation) does not find it.
    await expect(ws.editMemory(t.db, org.as(2), { id: m.id, content: "mine now" })).rejects.toBeInstanceOf(NotFoundError);
    await expect(ws.editMemory(t.db, org.as(1), { id: m.id })).rejects.toBeInstanceOf(ValidationError);
    const [audit] = await trail(org.id, "memory.edited").then((rs) => rs.filter((r) => r.resource_id === m.id).slice(-1));
    expect(audit!.new_value).toEqual({ changed: ["content", "title"], embedding_status: "pending" });
  });
});

describe("tasks: edit", () => {
  it("title, description, due date and assignee; the assignee must be an active member of the same organisation", async () => {
    const task = await ws.createTask(t.db, org.as(1), { title: "write", description: "d", dueDate: "2031-01-02", dueTime: "09:00" });
    const e = await ws.editTask(t.db, org.as(1), { id: task.id, title: "write more", description: null, dueDate: "2031-02-03", assigneeId: org.users[2]!.id });
    expect(e).toMatchObject({ title: "write more", description: null, due_time: null, user_id: org.users[2]!.id });
    expect(await row("SELECT due_date::text FROM workspace.tasks WHERE id = $1", [task.id])).toEqual({ due_date: "2031-02-03" });
    const cleared = await ws.editTask(t.db, org.as(2), { id: task.id, dueDate: null });
    expect(cleared).toMatchObject({ due_date: null, due_time: null, title: "write more" });
    await expect(ws.editTask(t.db, org.as(1), { id: task.id, assigneeId: other.users[0]!.id })).rejects.toBeInstanceOf(NotFoundError);
    await expect(ws.editTask(t.db, other.as(0), { id: task.id, title: "x" })).rejects.toBeInstanceOf(NotFoundError);
    const leaver = await ws.createUser(t.db, org.as(0), { email: `gone.${crypto.randomUUID()}@example.com` });
    await t.db.tenant({ tenantId: org.id, userId: org.users[0]!.id }, (c) =>
      c.query("UPDATE workspace.users SET is_active = false WHERE id = $1", [leaver.id]),
    );
    const inactive = await ws.editTask(t.db, org.as(1), { id: task.id, assigneeId: leaver.id }).catch((x: unknown) => x);
    expect(inactive).toBeInstanceOf(ValidationError);
    expect((inactive as ValidationError).fields).toEqual(["assigneeId"]);
    expect(await row("SELECT user_id FROM workspace.tasks WHERE id = $1", [task.id])).toEqual({ user_id: org.users[2]!.id });
    const audits = (await trail(org.id, "task.edited")).filter((r) => r.resource_id === task.id);
    expect(audits.map((r) => r.new_value.changed)).toEqual([["title", "description", "dueDate", "assigneeId"], ["dueDate"]]);
  });
});

describe("leaving a conversation", () => {
  it("a participant leaves; the last owner/admin of a group with others cannot (ConflictError naming the rule), nor by hand; after handing over they can", async () => {
    const g = await ws.createConversation(t.db, org.as(0), { type: "group", name: "leave", participantIds: [org.users[1]!.id, org.users[2]!.id] });
    await ws.leaveConversation(t.db, org.as(2), { conversationId: g.id });
    expect((await ws.participantsOf(t.db, org.as(0), { conversationId: g.id })).map((p) => p.user_id).sort()).toEqual(
      [org.users[0]!.id, org.users[1]!.id].sort(),
    );
    await expect(ws.leaveConversation(t.db, org.as(2), { conversationId: g.id })).rejects.toBeInstanceOf(NotFoundError);
    const refused = await ws.leaveConversation(t.db, org.as(0), { conversationId: g.id }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConflictError);
    expect((refused as ConflictError).constraint).toBe(ws.KEEPS_AN_ADMIN);
    expect((refused as Error).message).toContain("handing over");
    const byHand = await sqlAs(org, 0, "DELETE FROM workspace.conversation_participants WHERE conversation_id = $1 AND user_id = $2", [g.id, org.users[0]!.id]);
    expect("error" in byHand && (byHand.error as ConflictError).constraint).toBe(ws.KEEPS_AN_ADMIN);
    // A plain member removes nobody else by hand (0 rows), the owner may.
    expect(
      await sqlAs(org, 1, "DELETE FROM workspace.conversation_participants WHERE conversation_id = $1 AND user_id = $2", [g.id, org.users[0]!.id]),
    ).toEqual({
      rowCount: 0,
      row: undefined,
    });
    // Handing over: a new admin joins; then the owner leaves.
    await ws.addMembers(t.db, org.as(0), { conversationId: g.id, userIds: [org.users[3]!.id], role: "admin" });
    await ws.leaveConversation(t.db, org.as(0), { conversationId: g.id });
    expect((await trail(org.id, "conversation.left")).filter((r) => r.resource_id === g.id).map((r) => r.old_value.role)).toEqual(["member", "owner"]);
    // The last participant of all may leave (nobody to hand over to), and a direct conversation has no such rule.
    const d = await ws.createConversation(t.db, org.as(0), { type: "direct", participantIds: [org.users[1]!.id] });
    await ws.leaveConversation(t.db, org.as(0), { conversationId: d.id });
  });
});

describeServer(`leaving at once (${SERVER_ONLY_REASON})`, () => {
  it("the owner and the only admin of a group leave concurrently: one leaves, the other gets the ConflictError; the group keeps one of them", async () => {
    for (let round = 0; round < 5; round++) {
      const g = await ws.createConversation(t.db, org.as(0), { type: "group", name: `race ${round}`, participantIds: [org.users[2]!.id] });
      await ws.addMembers(t.db, org.as(0), { conversationId: g.id, userIds: [org.users[1]!.id], role: "admin" });
      const outcomes = await Promise.allSettled([0, 1].map((i) => ws.leaveConversation(t.db, org.as(i), { conversationId: g.id })));
      expect(outcomes.map((o) => o.status).sort()).toEqual(["fulfilled", "rejected"]);
      expect((outcomes.find((o) => o.status === "rejected") as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
      const roles = (await ws.participantsOf(t.db, org.as(2), { conversationId: g.id })).map((p) => p.role).sort();
      expect(roles.length).toBe(2);
      expect(roles.some((r) => r === "owner" || r === "admin")).toBe(true);
    }
  });
});

describe("organisations: name and settings, plan, deletion", () => {
  it("updateOrganization changes name and settings (organization:update); the plan only through the platform, audited in the organisation's trail", async () => {
    const o = await makeOrg(t.db, 2, "plan");
    const u = await ws.updateOrganization(t.db, o.as(0), { name: "Renamed", settings: { locale: "fr" } });
    expect(u).toMatchObject({ name: "Renamed", settings: { locale: "fr" }, plan_type: "free" });
    await expect(ws.updateOrganization(t.db, o.as(1), { name: "Mine" })).rejects.toBeInstanceOf(ForbiddenError);
    const byHand = await sqlAs(o, 0, "UPDATE workspace.organizations SET plan_type = 'enterprise' WHERE id = $1", [o.id]);
    expect("error" in byHand && (byHand.error as Error).message).toMatch(/permission denied/);
    const p = await ws.setOrganizationPlan(t.db, P, { organizationId: o.id, planType: "pro" });
    expect(p).toMatchObject({ id: o.id, plan_type: "pro", name: "Renamed" });
    expect(await trail(o.id, "organization.plan_changed")).toEqual([
      { user_id: P.actorId, resource_id: o.id, old_value: { plan_type: "free" }, new_value: { plan_type: "pro" }, metadata: {} },
    ]);
    await expect(ws.setOrganizationPlan(t.db, P, { organizationId: crypto.randomUUID(), planType: "pro" })).rejects.toBeInstanceOf(NotFoundError);
  });

  it("deleteOrganization: only for a member holding organization:delete; the seed's cascade; the record stays in the organisation's own trail", async () => {
    const o = await makeOrg(t.db, 2, "doomed");
    const conv = await ws.createConversation(t.db, o.as(0), { type: "direct", participantIds: [o.users[1]!.id] });
    await ws.sendMessage(t.db, o.as(0), { conversationId: conv.id, content: "bye" });
    await ws.createTask(t.db, o.as(1), { title: "t" });
    const memory = await ws.createMemory(t.db, o.as(1), { content: "kept" });
    const session = await ws.createSession(t.db, o.as(1), {});
    expect((await ws.resolveSession(t.db, P, { token: session.token })).user_id).toBe(o.users[1]!.id);
    // A member without the permission (an admin neither: owners only) cannot have it deleted.
    await expect(ws.deleteOrganization(t.db, P, { organizationId: o.id, requestedBy: o.users[1]!.id })).rejects.toBeInstanceOf(ForbiddenError);
    await expect(ws.deleteOrganization(t.db, P, { organizationId: crypto.randomUUID() })).rejects.toBeInstanceOf(NotFoundError);
    expect(await ws.deleteOrganization(t.db, P, { organizationId: o.id, requestedBy: o.users[0]!.id })).toEqual({ id: o.id, members_detached: 2 });
    const left = await row(
      `SELECT (SELECT count(*) FROM workspace.organizations WHERE id = $1)::int AS orgs,
              (SELECT count(*) FROM workspace.conversations WHERE organization_id = $1)::int AS conversations,
              (SELECT count(*) FROM workspace.messages WHERE conversation_id = $2)::int AS messages,
              (SELECT count(*) FROM workspace.tasks WHERE organization_id = $1)::int AS tasks,
              (SELECT count(*) FROM workspace.user_roles WHERE organization_id = $1)::int AS grants,
              (SELECT count(*) FROM workspace.users WHERE id = ANY($3) AND organization_id IS NULL)::int AS detached,
              (SELECT count(*) FROM workspace.memories WHERE id = $4)::int AS memories`,
      [o.id, conv.id, o.users.map((u) => u.id), memory.id],
    );
    expect(left).toEqual({ orgs: 0, conversations: 0, messages: 0, tasks: 0, grants: 0, detached: 2, memories: 1 });
    const [record] = await trail(o.id, "organization.deleted");
    expect(record).toMatchObject({
      user_id: P.actorId,
      resource_id: o.id,
      metadata: { requested_by: o.users[0]!.id, members_detached: 2, sessions_revoked: 1 },
    });
    // A detached member's session ended with the organisation.
    await expect(ws.resolveSession(t.db, P, { token: session.token })).rejects.toBeInstanceOf(NotFoundError);
    expect((await trail(o.id, "organization.created")).length).toBe(1); // the trail before it stays too
  });
});

describe("sync batches with tombstones", () => {
  it("a batch's deleted ids remove the rows (gmail, calendar, drive); replaying it is a no-op; an id both upserted and deleted ends deleted", async () => {
    const ctx = org.as(1);
    const i = await ws.connectIntegration(t.db, ctx, { provider: "google", accessToken: "tok" });
    await ws.syncGmailMessages(t.db, ctx, { integrationId: i.id, rows: ["g1", "g2", "g3"].map((g) => ({ gmail_id: g, subject: `mail ${g}` })) });
    const batch = {
      integrationId: i.id,
      rows: [
        { gmail_id: "g4", subject: "new" },
        { gmail_id: "g3", subject: "again" },
      ],
      deleted: ["g1", "g3", "gx"],
    };
    expect(await ws.syncGmailMessages(t.db, ctx, batch)).toEqual({ inserted: 1, updated: 1, deleted: 2 });
    expect(await ws.syncGmailMessages(t.db, ctx, batch)).toEqual({ inserted: 1, updated: 1, deleted: 1 }); // g3 comes back and goes again
    const gmail = await t.db.pool.query("SELECT gmail_id FROM workspace.gmail_messages WHERE integration_id = $1 ORDER BY 1", [i.id]);
    expect(gmail.rows.map((r) => r.gmail_id)).toEqual(["g2", "g4"]);
    const at = (h: number) => new Date(Date.UTC(2031, 0, 1, h));
    await ws.syncCalendarEvents(t.db, ctx, { integrationId: i.id, rows: [{ provider_event_id: "e1", start_time: at(1), end_time: at(2) }] });
    expect(await ws.syncCalendarEvents(t.db, ctx, { integrationId: i.id, rows: [], deleted: ["e1"] })).toEqual({ inserted: 0, updated: 0, deleted: 1 });
    await ws.syncDriveFiles(t.db, ctx, { integrationId: i.id, rows: [{ provider_file_id: "f1", name: "a" }] });
    expect(await ws.syncDriveFiles(t.db, ctx, { integrationId: i.id, rows: [], deleted: ["f1", "f1"] })).toEqual({ inserted: 0, updated: 0, deleted: 1 });
    // Another user's integration: not found, nothing deleted.
    await expect(ws.syncGmailMessages(t.db, org.as(2), { integrationId: i.id, rows: [], deleted: ["g2"] })).rejects.toBeInstanceOf(NotFoundError);
    expect((await trail(org.id, "integration.synced")).filter((r) => r.resource_id === i.id).map((r) => r.metadata.deleted)).toEqual([0, 2, 1, 0, 1, 0, 1]);
  });
});
