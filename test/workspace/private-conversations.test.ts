/**
 * Issue 15, item 2: a private conversation's participants, messages and memory usage are visible only to its
 * participants — also to hand-written SQL as `app` — and an open one's to every member; AI and system
 * messages (no sender, no acting user) can still be written into any conversation of the organisation.
 */
import crypto from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { ForbiddenError } from "../../src/db/errors";
import { platformContext } from "../../src/db/operation";
import * as ws from "../../src/workspace";
import { useTestDb } from "../support/db";

const t = useTestDb();
let org: string;
let [a, b, c]: string[] = [];
let priv: ws.Conversation;
let open: ws.Conversation;
let memory: ws.Memory;

const as = (userId: string | null) => ws.workspaceContext({ organizationId: org, userId });
/** Hand-written SQL as `app` with the organisation and (optionally) a user set. */
const sqlAs = <T>(userId: string | null, fn: (c: import("pg").PoolClient) => Promise<T>) => t.db.tenant({ tenantId: org, userId: userId ?? undefined }, fn);
const count = (userId: string | null, sql: string, params: unknown[]) => sqlAs(userId, async (cl) => (await cl.query<{ n: number }>(sql, params)).rows[0]!.n);

beforeAll(async () => {
  const tag = crypto.randomBytes(4).toString("hex");
  const o = await ws.createOrganization(t.db, platformContext(), { name: `Private ${tag}`, owner: { email: `a.${tag}@example.com` } });
  org = o.id;
  a = o.owner.id;
  [b, c] = await Promise.all(["b", "c"].map(async (x) => (await ws.createUser(t.db, as(a!), { email: `${x}.${tag}@example.com` })).id));
  priv = await ws.createConversation(t.db, as(a!), { type: "group", name: "private", participantIds: [b!] });
  open = await ws.createConversation(t.db, as(a!), { type: "group", name: "open", isPrivate: false, participantIds: [b!] });
  await ws.sendMessage(t.db, as(a!), { conversationId: priv.id, content: "secret plan" });
  await ws.sendMessage(t.db, as(a!), { conversationId: open.id, content: "lunch?" });
  memory = await ws.createMemory(t.db, as(b!), { content: "b's note" });
});

describe("private conversations under row-level security", () => {
  const messagesIn = (_conv: string) => "SELECT count(*)::int AS n FROM workspace.messages WHERE conversation_id = $1";
  const participantsIn = "SELECT count(*)::int AS n FROM workspace.conversation_participants WHERE conversation_id = $1";

  it("participants see a private conversation's messages and participants; a non-participant member sees none, as app too", async () => {
    expect(await count(a!, messagesIn(priv.id), [priv.id])).toBe(1);
    expect(await count(b!, messagesIn(priv.id), [priv.id])).toBe(1);
    expect(await count(c!, messagesIn(priv.id), [priv.id])).toBe(0);
    expect(await count(c!, participantsIn, [priv.id])).toBe(0);
    expect(await count(b!, participantsIn, [priv.id])).toBe(2);
    // The service says the same.
    await expect(ws.messagesOf(t.db, as(c!), { conversationId: priv.id })).rejects.toBeInstanceOf(ForbiddenError);
  });

  it("an open conversation is readable by every member", async () => {
    expect(await count(c!, messagesIn(open.id), [open.id])).toBe(1);
    expect(await count(c!, participantsIn, [open.id])).toBe(2);
  });

  it("a non-participant cannot post into, join or update a private conversation by hand", async () => {
    const post = await sqlAs(c!, (cl) =>
      cl.query("INSERT INTO workspace.messages (conversation_id, sender_id, content) VALUES ($1, $2, 'hi')", [priv.id, c]),
    ).catch((e) => e);
    expect(post).toBeInstanceOf(ForbiddenError);
    const join = await sqlAs(c!, (cl) =>
      cl.query("INSERT INTO workspace.conversation_participants (conversation_id, user_id) VALUES ($1, $2)", [priv.id, c]),
    ).catch((e) => e);
    expect(join).toBeInstanceOf(ForbiddenError);
    expect((await sqlAs(c!, (cl) => cl.query("UPDATE workspace.messages SET content = 'x' WHERE conversation_id = $1", [priv.id]))).rowCount).toBe(0);
  });

  it("AI and system messages: with no acting user, a sender-less message goes into a private conversation; that context sees only such messages of it", async () => {
    const system = as(null);
    const m = await ws.sendMessage(t.db, system, { conversationId: priv.id, content: "summary ready", aiModel: "gpt-x" });
    expect(m).toMatchObject({ sender_id: null, is_ai_response: true });
    // The system context sees the sender-less message it could write, not what the participants wrote.
    expect(await count(null, messagesIn(priv.id), [priv.id])).toBe(1);
    expect(await count(null, "SELECT count(*)::int AS n FROM workspace.messages WHERE conversation_id = $1 AND sender_id IS NOT NULL", [priv.id])).toBe(0);
    expect(await count(a!, messagesIn(priv.id), [priv.id])).toBe(2);
    // An AI answer in a user's context goes through the participant check.
    await expect(ws.sendMessage(t.db, as(c!), { conversationId: priv.id, content: "x", aiModel: "gpt-x" })).rejects.toBeInstanceOf(ForbiddenError);
  });

  it("memory usage of a private conversation's message follows it: a non-participant cannot record or see it", async () => {
    const [msg] = await ws.messagesOf(t.db, as(b!), { conversationId: priv.id });
    await ws.recordMemoriesUsed(t.db, as(b!), { messageId: msg!.id, memories: [{ memoryId: memory.id, relevanceScore: 0.9 }] });
    expect(await count(b!, "SELECT count(*)::int AS n FROM workspace.message_memory_usage WHERE message_id = $1", [msg!.id])).toBe(1);
    const cMemory = await ws.createMemory(t.db, as(c!), { content: "c's note" });
    await expect(ws.recordMemoriesUsed(t.db, as(c!), { messageId: msg!.id, memories: [{ memoryId: cMemory.id }] })).rejects.toBeInstanceOf(ForbiddenError);
  });
});
