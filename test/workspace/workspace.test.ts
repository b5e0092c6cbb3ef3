/** The workspace service end to end, on both engines: every table written and read through the service. */
import crypto from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../../src/db/errors";
import { platformContext } from "../../src/db/operation";
import * as ws from "../../src/workspace";
import { useTestDb } from "../support/db";
import { cosineDistance, makeOrg, type Org, randomVector, rng } from "./fixtures";

const t = useTestDb();
let org: Org;
beforeAll(async () => {
  org = await makeOrg(t.db, 3, "acme");
});

const q = async <T = Record<string, unknown>>(sql: string, params: unknown[] = []) => (await t.db.pool.query(sql, params)).rows as T[];

describe("organisations, users, preferences, sessions", () => {
  it("finds a user by email in any letter case, and refuses the same email in another case", async () => {
    const u = org.users[0]!;
    expect((await ws.findUserByEmail(t.db, org.system, { email: u.email.toUpperCase() }))?.id).toBe(u.id);
    expect(await ws.findUserByEmail(t.db, org.system, { email: "nobody@example.com" })).toBeNull();
    const err = await ws.createUser(t.db, org.as(0), { email: u.email.replace("user", "USER") }).catch((e) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err.message).toContain("idx_users_email");
    expect(Object.keys(await ws.getUser(t.db, org.system, { userId: u.id }))).not.toContain("password_hash");
  });

  it("keeps preferences: defaults first, then partial updates keep the other fields", async () => {
    const ctx = org.as(0);
    expect(await ws.getPreferences(t.db, ctx)).toMatchObject({ theme: "system", max_memories_per_request: 5, language: "en" });
    await ws.updatePreferences(t.db, ctx, { theme: "dark", excludedMemoryTypes: ["secret"] });
    const p = await ws.updatePreferences(t.db, ctx, { maxMemoriesPerRequest: 12 });
    expect(p).toMatchObject({ theme: "dark", max_memories_per_request: 12, excluded_memory_types: ["secret"] });
    await expect(ws.updatePreferences(t.db, ctx, { theme: "neon" as never })).rejects.toThrow(/theme/);
  });

  it("stores only hashes of session tokens, resolves a live token, and forgets an ended one", async () => {
    const ctx = ws.workspaceContext({ organizationId: org.id, userId: org.users[1]!.id, ipAddress: "10.1.2.3", userAgent: "vitest" });
    const s = await ws.createSession(t.db, ctx, { ttlSeconds: 3600, withRefreshToken: true });
    const [row] = await q<{ token_hash: string; refresh_token_hash: string; ip: string }>(
      "SELECT token_hash, refresh_token_hash, host(ip_address) AS ip FROM workspace.sessions WHERE id = $1",
      [s.session_id],
    );
    expect(row!.token_hash).toBe(crypto.createHash("sha256").update(s.token).digest("hex"));
    expect(row!.refresh_token_hash).not.toContain(s.refresh_token);
    expect(row!.ip).toBe("10.1.2.3");
    expect(JSON.stringify(await q("SELECT * FROM workspace.sessions"))).not.toContain(s.token);
    expect(await ws.resolveSession(t.db, platformContext(), { token: s.token })).toMatchObject({
      session_id: s.session_id,
      user_id: org.users[1]!.id,
      organization_id: org.id,
    });
    await expect(ws.resolveSession(t.db, platformContext(), { token: `${s.token}x` })).rejects.toBeInstanceOf(NotFoundError);
    await ws.endSession(t.db, ctx, { sessionId: s.session_id });
    await expect(ws.resolveSession(t.db, platformContext(), { token: s.token })).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe("memories", () => {
  it("creates with tags and metadata, soft-deletes, and keyword-searches only live memories", async () => {
    const ctx = org.as(0);
    const m = await ws.createMemory(t.db, ctx, {
      content: "The quarterly budget review is on Friday",
      title: "Budget",
      tags: ["finance", "q3"],
      metadata: { origin: "chat" },
    });
    expect(m).toMatchObject({ memory_type: "note", source: "manual", tags: ["finance", "q3"], metadata: { origin: "chat" }, embedding_status: "pending" });
    const other = await ws.createMemory(t.db, ctx, { content: "Budgets for the offsite were approved", tags: ["finance"] });
    const hits = await ws.keywordSearchMemories(t.db, ctx, { query: "budget" });
    expect(hits.map((h) => h.id).sort()).toEqual([m.id, other.id].sort());
    await ws.deleteMemory(t.db, ctx, { id: other.id });
    expect((await ws.keywordSearchMemories(t.db, ctx, { query: "budget" })).map((h) => h.id)).toEqual([m.id]);
    await expect(ws.getMemory(t.db, ctx, { id: other.id })).rejects.toBeInstanceOf(NotFoundError);
    await expect(ws.deleteMemory(t.db, ctx, { id: other.id })).rejects.toBeInstanceOf(NotFoundError);
    // Private to its user: the colleague in the same organisation sees nothing.
    await expect(ws.getMemory(t.db, org.as(1), { id: m.id })).rejects.toBeInstanceOf(NotFoundError);
    expect(await ws.keywordSearchMemories(t.db, org.as(1), { query: "budget" })).toEqual([]);
  });

  it("rejects content of 50,001 characters with a ValidationError naming content, and accepts 50,000", async () => {
    const err = await ws.createMemory(t.db, org.as(0), { content: "x".repeat(50_001) }).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.fields).toEqual(["content"]);
    await expect(ws.createMemory(t.db, org.as(0), { content: "x".repeat(50_000) })).resolves.toMatchObject({ user_id: org.users[0]!.id });
  });

  it("semantic search returns the true nearest neighbours (exact cosine order), honours tags, skips deleted and other users' memories", async () => {
    const ctx = org.as(2);
    const next = rng(42);
    const data: { id: string; v: number[]; tags: string[] }[] = [];
    for (let i = 0; i < 60; i++) {
      const v = randomVector(next);
      const tags = i % 3 === 0 ? ["pinned"] : [];
      const m = await ws.createMemory(t.db, ctx, { content: `memory ${i}`, tags });
      await ws.setEmbedding(t.db, ctx, { id: m.id, status: "completed", embedding: v, model: "test-1536" });
      data.push({ id: m.id, v, tags });
    }
    // Another user's identical vector must never show up.
    const foreign = await ws.createMemory(t.db, org.as(0), { content: "not yours" });
    await ws.setEmbedding(t.db, org.as(0), { id: foreign.id, status: "completed", embedding: data[0]!.v, model: "test-1536" });

    const query = data[0]!.v.map((x, i) => x + (rng(7)() - 0.5) * 0.01 * (i % 2));
    const exact = [...data].sort((a, b) => cosineDistance(query, a.v) - cosineDistance(query, b.v));
    const hits = await ws.semanticSearchMemories(t.db, ctx, { embedding: query, k: 5, efSearch: 100 });
    expect(hits.map((h) => h.id)).toEqual(exact.slice(0, 5).map((d) => d.id));
    for (const h of hits) expect(h.distance).toBeCloseTo(cosineDistance(query, data.find((d) => d.id === h.id)!.v), 5);

    const pinned = await ws.semanticSearchMemories(t.db, ctx, { embedding: query, k: 5, tags: ["pinned"], efSearch: 100 });
    expect(pinned.map((h) => h.id)).toEqual(
      exact
        .filter((d) => d.tags.includes("pinned"))
        .slice(0, 5)
        .map((d) => d.id),
    );

    await ws.deleteMemory(t.db, ctx, { id: exact[0]!.id });
    const after = await ws.semanticSearchMemories(t.db, ctx, { embedding: query, k: 5, efSearch: 100 });
    expect(after.map((h) => h.id)).toEqual(exact.slice(1, 6).map((d) => d.id));

    const bad = await ws.semanticSearchMemories(t.db, ctx, { embedding: [1, 2, 3], k: 5 }).catch((e) => e);
    expect(bad).toBeInstanceOf(ValidationError);
    expect(bad.fields).toEqual(["embedding"]);
  });

  it("completed needs an embedding; failed records progress without one", async () => {
    const ctx = org.as(0);
    const m = await ws.createMemory(t.db, ctx, { content: "to embed" });
    await expect(ws.setEmbedding(t.db, ctx, { id: m.id, status: "completed", model: "x" } as never)).rejects.toBeInstanceOf(ValidationError);
    expect(await ws.setEmbedding(t.db, ctx, { id: m.id, status: "failed", model: "x" })).toMatchObject({
      embedding_status: "failed",
      embedding_updated_at: null,
    });
    // The same rule holds in SQL for anyone: the CHECK names itself.
    const err = await t.db.pool.query("UPDATE workspace.memories SET embedding_status = 'completed' WHERE id = $1", [m.id]).catch((e) => e);
    expect(err.constraint).toBe("memories_completed_has_embedding");
  });
});

describe("conversations and messages", () => {
  it("direct, group and ai_chat conversations with participants, unread counts and full-text search", async () => {
    const [a, b, c] = [org.as(0), org.as(1), org.as(2)];
    const direct = await ws.createConversation(t.db, a, { type: "direct", participantIds: [org.users[1]!.id] });
    const group = await ws.createConversation(t.db, a, { type: "group", name: "Launch", participantIds: [org.users[1]!.id] });
    const ai = await ws.createConversation(t.db, b, { type: "ai_chat" });
    expect((await ws.participantsOf(t.db, a, { conversationId: direct.id })).map((p) => [p.user_id, p.role])).toEqual(
      expect.arrayContaining([
        [org.users[0]!.id, "owner"],
        [org.users[1]!.id, "member"],
      ]),
    );
    await expect(ws.createConversation(t.db, a, { type: "direct", participantIds: [] })).rejects.toThrow(/participantIds/);
    await expect(ws.createConversation(t.db, a, { type: "group" })).rejects.toThrow(/name/);

    await ws.sendMessage(t.db, a, { conversationId: direct.id, content: "Shipping the rocket telemetry today" });
    await ws.sendMessage(t.db, a, { conversationId: direct.id, content: "Second note" });
    const reply = await ws.sendMessage(t.db, b, { conversationId: direct.id, content: "Great, telemetry looks good" });
    const aiMsg = await ws.sendMessage(t.db, b, { conversationId: ai.id, content: "Here is a summary", aiModel: "gpt-x" });
    expect(aiMsg).toMatchObject({ sender_id: null, is_ai_response: true, content_type: "ai", ai_model: "gpt-x" });
    // Not a participant: no posting into someone else's conversation.
    await expect(ws.sendMessage(t.db, c, { conversationId: direct.id, content: "hi" })).rejects.toBeInstanceOf(ForbiddenError);
    // Only owners/admins add members, only to groups.
    await expect(ws.addMembers(t.db, b, { conversationId: group.id, userIds: [org.users[2]!.id] })).rejects.toBeInstanceOf(ForbiddenError);
    await ws.addMembers(t.db, a, { conversationId: group.id, userIds: [org.users[2]!.id] });
    await expect(ws.addMembers(t.db, a, { conversationId: direct.id, userIds: [org.users[2]!.id] })).rejects.toThrow(/only group/);

    const [conv] = await q<{ last_message_at: Date }>("SELECT last_message_at FROM workspace.conversations WHERE id = $1", [direct.id]);
    expect(conv!.last_message_at.getTime()).toBe(reply.created_at.getTime());

    expect((await ws.unreadCounts(t.db, b)).get(direct.id)).toBe(2);
    expect((await ws.unreadCounts(t.db, a)).get(direct.id)).toBe(1);
    await ws.markConversationRead(t.db, b, { conversationId: direct.id });
    expect((await ws.unreadCounts(t.db, b)).get(direct.id)).toBe(0);
    await expect(ws.markConversationRead(t.db, c, { conversationId: direct.id })).rejects.toBeInstanceOf(NotFoundError);

    const found = await ws.searchMessages(t.db, a, { query: "telemetry" });
    expect(found.map((m) => m.content).sort()).toEqual(["Great, telemetry looks good", "Shipping the rocket telemetry today"]);
    // Search covers the conversations the user takes part in, not every conversation of the organisation.
    expect(await ws.searchMessages(t.db, c, { query: "telemetry" })).toEqual([]);
    const page = await ws.messagesOf(t.db, a, { conversationId: direct.id, limit: 2 });
    expect(page.map((m) => m.content)).toEqual(["Great, telemetry looks good", "Second note"]);
    const next = await ws.messagesOf(t.db, a, { conversationId: direct.id, limit: 2, before: page[1]!.created_at });
    expect(next.map((m) => m.content)).toEqual(["Shipping the rocket telemetry today"]);
  });

  it("a private conversation is read only by its participants, an open one by every member, another organisation's by no one", async () => {
    const [a, b, c] = [org.as(0), org.as(1), org.as(2)];
    const secret = await ws.createConversation(t.db, a, { type: "direct", participantIds: [org.users[1]!.id] });
    const open = await ws.createConversation(t.db, a, { type: "group", name: "Announcements", isPrivate: false });
    await ws.sendMessage(t.db, a, { conversationId: secret.id, content: "salary figures" });
    await ws.sendMessage(t.db, a, { conversationId: open.id, content: "all hands at 10" });
    expect((await ws.messagesOf(t.db, b, { conversationId: secret.id })).map((m) => m.content)).toEqual(["salary figures"]);
    await expect(ws.messagesOf(t.db, c, { conversationId: secret.id })).rejects.toBeInstanceOf(ForbiddenError);
    await expect(ws.participantsOf(t.db, c, { conversationId: secret.id })).rejects.toBeInstanceOf(ForbiddenError);
    expect((await ws.messagesOf(t.db, c, { conversationId: open.id })).map((m) => m.content)).toEqual(["all hands at 10"]);
    expect((await ws.participantsOf(t.db, c, { conversationId: open.id })).map((p) => p.user_id)).toEqual([org.users[0]!.id]);
    // A memory may cite only a conversation its user may read.
    await expect(ws.createMemory(t.db, c, { content: "notes", conversationId: secret.id })).rejects.toBeInstanceOf(ForbiddenError);
    expect((await ws.createMemory(t.db, b, { content: "notes", conversationId: secret.id })).conversation_id).toBe(secret.id);
    const other = await makeOrg(t.db, 1, "other-conv");
    await expect(ws.messagesOf(t.db, other.as(0), { conversationId: open.id })).rejects.toBeInstanceOf(NotFoundError);
    await expect(ws.createMemory(t.db, other.as(0), { content: "notes", conversationId: open.id })).rejects.toBeInstanceOf(NotFoundError);
  });

  it("records which memories a message used, with relevance in [0, 1]", async () => {
    const a = org.as(0);
    const conv = await ws.createConversation(t.db, a, { type: "ai_chat" });
    const msg = await ws.sendMessage(t.db, a, { conversationId: conv.id, content: "answer", aiModel: "m" });
    const m1 = await ws.createMemory(t.db, a, { content: "fact one" });
    const m2 = await ws.createMemory(t.db, a, { content: "fact two" });
    await ws.recordMemoriesUsed(t.db, a, {
      messageId: msg.id,
      memories: [
        { memoryId: m1.id, relevanceScore: 0.9 },
        { memoryId: m2.id, relevanceScore: 0.4 },
      ],
    });
    expect((await ws.memoriesUsedBy(t.db, a, { messageId: msg.id })).map((u) => [u.memory_id, u.relevance_score])).toEqual([
      [m1.id, 0.9],
      [m2.id, 0.4],
    ]);
    await expect(ws.recordMemoriesUsed(t.db, a, { messageId: msg.id, memories: [{ memoryId: m1.id, relevanceScore: 1.5 }] })).rejects.toThrow(/relevanceScore/);
    // Someone else's memory cannot be recorded as used (RLS refuses the row).
    const theirs = await ws.createMemory(t.db, org.as(1), { content: "private" });
    await expect(ws.recordMemoriesUsed(t.db, a, { messageId: msg.id, memories: [{ memoryId: theirs.id }] })).rejects.toBeInstanceOf(ForbiddenError);
  });
});

describe("tasks", () => {
  it("status transitions set and clear completed_at; invalid transitions are refused; due soon lists open tasks by date", async () => {
    const a = org.as(0);
    const today = new Date().toISOString().slice(0, 10);
    const plus = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString().slice(0, 10);
    const t1 = await ws.createTask(t.db, a, { title: "Write report", priority: "high", dueDate: plus(2), dueTime: "09:30:00", tags: ["work"] });
    const t2 = await ws.createTask(t.db, a, { title: "Book flights", dueDate: today });
    const t3 = await ws.createTask(t.db, a, { title: "Far away", dueDate: plus(30) });
    expect(t1).toMatchObject({ status: "todo", completed_at: null, priority: "high", organization_id: org.id });

    const done = await ws.changeTaskStatus(t.db, a, { id: t1.id, status: "done" });
    expect(done.completed_at).toBeInstanceOf(Date);
    const reopened = await ws.changeTaskStatus(t.db, a, { id: t1.id, status: "in_progress" });
    expect(reopened.completed_at).toBeNull();
    await ws.changeTaskStatus(t.db, a, { id: t2.id, status: "cancelled" });
    const err = await ws.changeTaskStatus(t.db, a, { id: t2.id, status: "done" }).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.fields).toEqual(["status"]);

    const due = await ws.tasksDueSoon(t.db, a, { days: 7, today });
    expect(due.map((x) => x.id)).toEqual([t1.id]);
    expect((await ws.tasksDueSoon(t.db, a, { days: 31, today })).map((x) => x.id)).toEqual([t1.id, t3.id]);
    await expect(ws.createTask(t.db, a, { title: "t", dueTime: "10:00:00" })).rejects.toThrow(/dueTime/);
  });
});

describe("integrations and synced data", () => {
  it("stores tokens encrypted (never plaintext) and decrypts them for the owner only", async () => {
    const a = org.as(0);
    const i = await ws.connectIntegration(t.db, a, {
      provider: "google",
      accessToken: "ya29.secret-access",
      refreshToken: "1//secret-refresh",
      scopes: ["gmail.readonly"],
    });
    expect(i).toMatchObject({ status: "active", has_access_token: true, has_refresh_token: true, provider: "google" });
    expect(i).not.toHaveProperty("access_token_encrypted");
    const raw = JSON.stringify(
      await q("SELECT encode(access_token_encrypted, 'escape') AS a, encode(refresh_token_encrypted, 'escape') AS r FROM workspace.integrations"),
    );
    expect(raw).not.toContain("secret-access");
    expect(raw).not.toContain("secret-refresh");
    expect(await ws.integrationTokens(t.db, a, { integrationId: i.id })).toEqual({ access_token: "ya29.secret-access", refresh_token: "1//secret-refresh" });
    await expect(ws.integrationTokens(t.db, org.as(1), { integrationId: i.id })).rejects.toBeInstanceOf(NotFoundError);
    // Reconnecting replaces the tokens on the same row (UNIQUE (user_id, provider)).
    const again = await ws.connectIntegration(t.db, a, { provider: "google", accessToken: "ya29.new" });
    expect(again.id).toBe(i.id);
    expect(await ws.integrationTokens(t.db, a, { integrationId: i.id })).toEqual({ access_token: "ya29.new", refresh_token: null });
    expect((await ws.markIntegrationSynced(t.db, a, { id: i.id, syncCursor: "history:42" })).sync_cursor).toBe("history:42");
    expect((await ws.setIntegrationState(t.db, a, { id: i.id, status: "expired" })).status).toBe("expired");
  });

  it("re-syncing mail, events and files is idempotent: same rows, updated in place, never duplicated", async () => {
    const b = org.as(1);
    const google = await ws.connectIntegration(t.db, b, { provider: "google", accessToken: "tok" });
    const ms = await ws.connectIntegration(t.db, b, { provider: "microsoft", accessToken: "tok" });
    const mails = Array.from({ length: 25 }, (_, i) => ({
      gmail_id: `g${i}`,
      subject: `Invoice ${i}`,
      body_text: i === 3 ? "quarterly invoice attached" : "hello",
      received_at: new Date(Date.UTC(2026, 10, 1 + (i % 20))),
    }));
    expect(await ws.syncGmailMessages(t.db, b, { integrationId: google.id, rows: mails })).toEqual({ inserted: 25, updated: 0, deleted: 0 });
    const ids1 = await q<{ id: string }>("SELECT id FROM workspace.gmail_messages ORDER BY gmail_id");
    expect(await ws.syncGmailMessages(t.db, b, { integrationId: google.id, rows: [...mails, { ...mails[0]!, subject: "Invoice 0 (edited)" }] })).toEqual({
      inserted: 0,
      updated: 25,
      deleted: 0,
    });
    const ids2 = await q<{ id: string; subject: string }>("SELECT id, subject FROM workspace.gmail_messages ORDER BY gmail_id");
    expect(ids2.map((r) => r.id)).toEqual(ids1.map((r) => r.id));
    expect(ids2.find((r) => r.subject.startsWith("Invoice 0"))!.subject).toBe("Invoice 0 (edited)");
    expect((await ws.searchMail(t.db, b, { query: "quarterly invoice" }))[0]!.gmail_id).toBe("g3");

    const start = new Date(Date.UTC(2026, 11, 1, 9));
    const events = [
      { provider_event_id: "e1", title: "Standup", start_time: start, end_time: new Date(start.getTime() + 900_000), attendees: [{ email: "x@example.com" }] },
      { provider_event_id: "e2", title: "Review", start_time: new Date(start.getTime() + 86_400_000), end_time: new Date(start.getTime() + 90_000_000) },
    ];
    expect(await ws.syncCalendarEvents(t.db, b, { integrationId: ms.id, rows: events })).toEqual({ inserted: 2, updated: 0, deleted: 0 });
    expect(await ws.syncCalendarEvents(t.db, b, { integrationId: ms.id, rows: events })).toEqual({ inserted: 0, updated: 2, deleted: 0 });
    const cal = await ws.calendarBetween(t.db, b, { from: start, to: new Date(start.getTime() + 3_600_000) });
    expect(cal.map((e) => [e.provider_event_id, e.provider])).toEqual([["e1", "microsoft"]]);
    await expect(
      ws.syncCalendarEvents(t.db, b, {
        integrationId: ms.id,
        rows: [{ provider_event_id: "bad", start_time: start, end_time: new Date(start.getTime() - 1) }],
      }),
    ).rejects.toThrow(/end_time/);

    const files = [
      { provider_file_id: "f1", name: "Plan.docx", size_bytes: 1024 },
      { provider_file_id: "f2", name: "Budget.xlsx" },
    ];
    expect(await ws.syncDriveFiles(t.db, b, { integrationId: google.id, rows: files })).toEqual({ inserted: 2, updated: 0, deleted: 0 });
    expect(await ws.syncDriveFiles(t.db, b, { integrationId: google.id, rows: [{ ...files[0]!, name: "Plan v2.docx" }] })).toEqual({
      inserted: 0,
      updated: 1,
      deleted: 0,
    });
    expect(await q("SELECT provider_file_id, name FROM workspace.drive_files ORDER BY 1")).toEqual([
      { provider_file_id: "f1", name: "Plan v2.docx" },
      { provider_file_id: "f2", name: "Budget.xlsx" },
    ]);
    // Another user cannot sync into this integration.
    await expect(ws.syncDriveFiles(t.db, org.as(0), { integrationId: google.id, rows: files })).rejects.toBeInstanceOf(NotFoundError);
  });

  it("stores a mail body of any accepted size in full and searches its first 100,000 characters (a tsvector holds at most 1 MB)", async () => {
    const c = org.as(2);
    const google = await ws.connectIntegration(t.db, c, { provider: "google", accessToken: "tok" });
    // ~850,000 characters of distinct words: their tsvector alone would be ~1.7 MB (54000 before the index
    // covered only the first 100,000 characters).
    const words = Array.from({ length: 150_000 }, (_, i) => `w${i.toString(36)}`).join(" ");
    const body = `zebrafirst ${words} zebralast`.slice(0, 1_000_000);
    expect(body.length).toBeGreaterThan(800_000);
    expect(await ws.syncGmailMessages(t.db, c, { integrationId: google.id, rows: [{ gmail_id: "huge", subject: "Archive", body_text: body }] })).toEqual({
      inserted: 1,
      updated: 0,
      deleted: 0,
    });
    expect(await q("SELECT length(body_text) AS n FROM workspace.gmail_messages WHERE gmail_id = 'huge'")).toEqual([{ n: body.length }]);
    expect((await ws.searchMail(t.db, c, { query: "zebrafirst" })).map((m) => m.gmail_id)).toEqual(["huge"]);
    expect((await ws.searchMail(t.db, c, { query: "archive" })).map((m) => m.gmail_id)).toEqual(["huge"]);
    expect(await ws.searchMail(t.db, c, { query: "zebralast" })).toEqual([]);
    await expect(
      ws.syncGmailMessages(t.db, c, { integrationId: google.id, rows: [{ gmail_id: "too-big", body_text: "x".repeat(1_000_001) }] }),
    ).rejects.toThrow(/rows\.0\.body_text/);
  });
});

describe("knowledge graph", () => {
  it("upserting an entity counts mentions and moves last_seen_at; relationships and mentions link entities of one user", async () => {
    const a = org.as(0);
    const first = await ws.observeEntity(t.db, a, { entityType: "person", name: "Ada Lovelace", aliases: ["Ada"] });
    const second = await ws.observeEntity(t.db, a, { entityType: "person", name: "Ada Lovelace", aliases: ["Countess"], metadata: { born: 1815 } });
    expect(second.id).toBe(first.id);
    expect(second).toMatchObject({ mention_count: 2, aliases: ["Ada", "Countess"], metadata: { born: 1815 } });
    expect(second.last_seen_at.getTime()).toBeGreaterThanOrEqual(first.last_seen_at.getTime());
    const org2 = await ws.observeEntity(t.db, a, { entityType: "organization", name: "Analytical Engines Ltd" });
    await ws.relateEntities(t.db, a, { sourceEntityId: first.id, targetEntityId: org2.id, relationshipType: "works_at", strength: 0.8 });
    await expect(ws.relateEntities(t.db, a, { sourceEntityId: first.id, targetEntityId: org2.id, relationshipType: "knows", strength: 1.2 })).rejects.toThrow(
      /strength/,
    );
    expect((await ws.entityNeighbours(t.db, a, { entityId: org2.id })).map((n) => [n.name, n.relationship_type, n.outgoing])).toEqual([
      ["Ada Lovelace", "works_at", false],
    ]);
    const mem = await ws.createMemory(t.db, a, { content: "Met Ada" });
    await ws.recordMention(t.db, a, { entityId: first.id, sourceType: "memory", sourceId: mem.id, position: 4 });
    expect(await ws.mentionsOf(t.db, a, { entityId: first.id })).toHaveLength(1);
    // The same name for another user is another entity; linking across users is refused by RLS.
    const theirs = await ws.observeEntity(t.db, org.as(1), { entityType: "person", name: "Ada Lovelace" });
    expect(theirs.id).not.toBe(first.id);
    expect(theirs.mention_count).toBe(1);
    await expect(ws.relateEntities(t.db, a, { sourceEntityId: first.id, targetEntityId: theirs.id, relationshipType: "knows" })).rejects.toBeInstanceOf(
      ForbiddenError,
    );
  });
});

describe("RBAC", () => {
  it("grants with expiry: permission holds until expires_at, resource:* covers every action, system roles are grantable but read-only", async () => {
    const admin = org.as(0);
    const editor = await ws.createRole(t.db, admin, { name: "editor", permissions: ["memories:read", "tasks:*"] });
    const u = org.users[1]!.id;
    expect(await ws.hasPermission(t.db, admin, { userId: u, permission: "memories:read" })).toBe(false);
    await ws.grantRole(t.db, admin, { userId: u, roleId: editor.id, expiresAt: new Date(Date.now() + 3_600_000) });
    expect(await ws.hasPermission(t.db, admin, { userId: u, permission: "memories:read" })).toBe(true);
    expect(await ws.hasPermission(t.db, admin, { userId: u, permission: "tasks:delete" })).toBe(true);
    expect(await ws.hasPermission(t.db, admin, { userId: u, permission: "memories:write" })).toBe(false);
    // Move the grant into the past (as the owner: granted_at too, so the CHECK expires_at > granted_at holds).
    await t.db.pool.query(
      "UPDATE workspace.user_roles SET granted_at = now() - interval '2 hours', expires_at = now() - interval '1 second' WHERE user_id = $1",
      [u],
    );
    expect(await ws.hasPermission(t.db, admin, { userId: u, permission: "memories:read" })).toBe(false);
    expect((await ws.rolesOf(t.db, admin, { userId: u })).map((r) => [r.name, r.active])).toEqual([["editor", false]]);
    // Granting again renews.
    await ws.grantRole(t.db, admin, { userId: u, roleId: editor.id });
    expect(await ws.hasPermission(t.db, admin, { userId: u, permission: "memories:read" })).toBe(true);
    await ws.revokeRole(t.db, admin, { userId: u, roleId: editor.id });
    expect(await ws.hasPermission(t.db, admin, { userId: u, permission: "memories:read" })).toBe(false);

    await expect(ws.createRole(t.db, admin, { name: "bad", permissions: ["Memories read"] })).rejects.toThrow(/permissions/);
    await expect(ws.createRole(t.db, admin, { name: "editor", permissions: [] })).rejects.toBeInstanceOf(ConflictError);

    // A system role (made by the platform) is visible to every organisation and grantable, but `app` cannot change it.
    const [sys] = await q<{ id: string }>("INSERT INTO workspace.roles (name, is_system, permissions) VALUES ('viewer', true, '{memories:read}') RETURNING id");
    await ws.grantRole(t.db, admin, { userId: u, roleId: sys!.id });
    expect(await ws.hasPermission(t.db, admin, { userId: u, permission: "memories:read" })).toBe(true);
    const changed = await t.db.tenant(
      org.id,
      async (c) => (await c.query("UPDATE workspace.roles SET permissions = '{admin:*}' WHERE id = $1", [sys!.id])).rowCount,
    );
    expect(changed).toBe(0);
  });
});

describe("documents, templates, devices, notifications", () => {
  it("a document may name only a visible template and the user's own live memories", async () => {
    const a = org.as(0);
    const other = await makeOrg(t.db, 1, "other-docs");
    const theirs = await ws.createTemplate(t.db, other.as(0), { name: "Theirs", documentType: "memo", outline: ["Secret plan"] });
    const theirMemory = await ws.createMemory(t.db, other.as(0), { content: "m" });
    const before = (await q("SELECT count(*)::int AS n FROM workspace.documents"))[0];
    await expect(ws.createDocument(t.db, a, { documentType: "memo", title: "x", templateId: theirs.id })).rejects.toThrow(/templateId: template not found/);
    await expect(ws.createDocument(t.db, a, { documentType: "memo", title: "x", contextMemoryIds: [theirMemory.id] })).rejects.toThrow(/contextMemoryIds/);
    const mine = await ws.createMemory(t.db, a, { content: "m" });
    await ws.deleteMemory(t.db, a, { id: mine.id });
    await expect(ws.createDocument(t.db, a, { documentType: "memo", title: "x", contextMemoryIds: [mine.id] })).rejects.toBeInstanceOf(NotFoundError);
    expect((await q("SELECT count(*)::int AS n FROM workspace.documents"))[0]).toEqual(before);
  });

  it("documents take their outline from the template and move through their lifecycle", async () => {
    const a = org.as(0);
    const tpl = await ws.createTemplate(t.db, a, { name: "Weekly report", documentType: "report", outline: ["Summary", "Risks"] });
    expect((await ws.listTemplates(t.db, a, { documentType: "report" })).map((x) => x.id)).toContain(tpl.id);
    const d = await ws.createDocument(t.db, a, { documentType: "report", title: "Week 47", templateId: tpl.id });
    expect(d).toMatchObject({ outline: ["Summary", "Risks"], status: "draft", template_id: tpl.id });
    await ws.updateDocumentStatus(t.db, a, { id: d.id, status: "generating" });
    const ready = await ws.updateDocumentStatus(t.db, a, { id: d.id, status: "ready", content: "All good." });
    expect(ready).toMatchObject({ status: "ready", content: "All good." });
    await expect(ws.updateDocumentStatus(t.db, org.as(1), { id: d.id, status: "exported" })).rejects.toBeInstanceOf(NotFoundError);
    await ws.updateDocumentStatus(t.db, a, { id: d.id, status: "exported" });
    await expect(ws.updateDocumentStatus(t.db, a, { id: d.id, status: "generating" })).rejects.toThrow(/status/);
    expect((await ws.documentsOfUser(t.db, a)).map((x) => x.id)).toContain(d.id);
  });

  it("devices register idempotently and deactivate; notifications list unread and mark read", async () => {
    const a = org.as(0);
    const d1 = await ws.registerDevice(t.db, a, { deviceToken: "apns-1", platform: "ios", deviceName: "Phone" });
    const d1again = await ws.registerDevice(t.db, a, { deviceToken: "apns-1", platform: "ios" });
    expect(d1again).toMatchObject({ id: d1.id, device_name: "Phone", is_active: true });
    await ws.deactivateDevice(t.db, a, { deviceId: d1.id });
    expect(await ws.activeDevices(t.db, a)).toEqual([]);
    expect((await ws.registerDevice(t.db, a, { deviceToken: "apns-1", platform: "ios" })).is_active).toBe(true);
    await expect(ws.deactivateDevice(t.db, org.as(1), { deviceId: d1.id })).rejects.toBeInstanceOf(NotFoundError);
    // Tokens are bounded in UTF-8 bytes so the UNIQUE (user_id, device_token) entry fits a btree page.
    const widest = crypto.randomBytes(1536).toString("base64"); // 2,048 random bytes of ASCII: no compression helps
    const d2 = await ws.registerDevice(t.db, a, { deviceToken: widest, platform: "web" });
    expect((await ws.registerDevice(t.db, a, { deviceToken: widest, platform: "web" })).id).toBe(d2.id);
    await expect(ws.registerDevice(t.db, a, { deviceToken: "é".repeat(1025), platform: "web" })).rejects.toThrow(/deviceToken: must be at most 2048 bytes/);
    await ws.deactivateDevice(t.db, a, { deviceId: d2.id });

    const n1 = await ws.notify(t.db, a, { type: "task.due", title: "Report due", resourceType: "task", resourceId: crypto.randomUUID() });
    const n2 = await ws.notify(t.db, a, { type: "message.new", data: { from: "b" } });
    expect((await ws.unreadNotifications(t.db, a)).map((n) => n.id)).toEqual([n2.id, n1.id]);
    expect(await ws.markNotificationsRead(t.db, a, { ids: [n1.id, n1.id] })).toEqual([n1.id]);
    expect((await ws.unreadNotifications(t.db, a)).map((n) => n.id)).toEqual([n2.id]);
    expect(await ws.markNotificationsRead(t.db, org.as(1), { ids: [n2.id] })).toEqual([]);
    // Writing a notification for another user is refused by RLS (ForbiddenError), not silently dropped.
    await expect(ws.notify(t.db, org.as(1), { type: "spam", userId: org.users[0]!.id })).rejects.toBeInstanceOf(ForbiddenError);
  });
});

describe("audit trail", () => {
  it("changes write audit rows in their own transaction; failures are audited separately; private data needs an acting user", async () => {
    const ctx = org.as(2);
    const owner = org.as(0); // reads the trail (audit:read)
    const range = { from: new Date(Date.now() - 60_000), to: new Date(Date.now() + 60_000) };
    const before = (await ws.auditLog(t.db, owner, range)).length;
    const task = await ws.createTask(t.db, ctx, { title: "audited" });
    await expect(ws.changeTaskStatus(t.db, ctx, { id: task.id, status: "bogus" as never })).rejects.toBeInstanceOf(ValidationError);
    const rows = await ws.auditLog(t.db, owner, range);
    expect(rows.length).toBe(before + 2);
    expect(rows[0]).toMatchObject({ action: "task.failed", status: "failure", user_id: org.users[2]!.id, organization_id: org.id });
    expect(rows[0]!.error_message).toBe("workspace.task.status: validation");
    expect(rows[1]).toMatchObject({ action: "task.created", status: "success", resource_id: task.id });
    await expect(ws.createMemory(t.db, org.system, { content: "no user" })).rejects.toBeInstanceOf(ForbiddenError);
    // Another organisation sees none of these rows.
    const other = await makeOrg(t.db, 1, "other");
    expect((await ws.auditLog(t.db, other.as(0), range)).every((r) => r.organization_id === other.id)).toBe(true);
  });
});
