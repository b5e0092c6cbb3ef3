/**
 * Tenant isolation of the workspace domain, property-based (fast-check), in the spirit of
 * tenant-isolation.test.ts (which covers screening and wills).
 *
 * The workspace has two levels of isolation (migrations/*_workspace_schema.sql): organisation-scoped rows
 * (users, conversations with participants and messages, tasks, roles, grants, templates, audit) are visible
 * to every member of their organisation (app.tenant_id); private rows (preferences, sessions, memories and
 * their use by messages, integrations with synced mail/calendar/drive, the knowledge graph, documents,
 * devices, notifications) only to their user (app.user_id, and only while that user is an active member of
 * the organisation). System roles and templates (organization_id NULL) are readable by everyone, writable
 * by no one through `app`. The first test checks that the 24 tables under RLS in the schema are the ones
 * this file models.
 *
 * Each run makes 2-4 new organisations with 1-3 users each (test/workspace/fixtures.ts makeOrg) and applies
 * a random sequence of service operations as random acting users, keeping a model of what was written:
 * memories with random tags and embeddings, conversations, members, messages and read marks, memory use by
 * messages, tasks and status changes, integrations with gmail/calendar/drive syncs, entities
 * (observeEntity), relationships and mentions, roles, grants and revocations, templates and documents,
 * devices, notifications, sessions and preferences. Targets (a conversation to post in, a memory to embed,
 * a role to grant, a user to notify, ...) are drawn from every organisation of the run and from a setup
 * organisation made before all runs: two times in three the acting user's own (or organisation's), else
 * any, so many operations aim at another organisation's or another user's rows. The model predicts the
 * outcome (success, NotFoundError, ForbiddenError, ValidationError) and the audit row it leaves. Data of
 * earlier runs stays in the database and in the model. Properties:
 *   (a) every read through the service as (organisation O, user U) -- memories by id, semantic search
 *       (top-k, with and without tags), keyword search, messages and participants of a conversation,
 *       unread counts, message search, tasks due, integration tokens, mail search, calendar, graph
 *       neighbours and mentions, roles and permissions of a user, templates, documents, devices,
 *       notifications, memory use of a message, users by id and email, preferences, the audit log --
 *       returns exactly what the model says O/U may see: O's organisation-scoped rows and U's private rows,
 *       nothing else. Memory embeddings come from a pool of 3 vectors, so other users (of O and of other
 *       organisations) hold memories with the identical embedding: semantic search must never return them.
 *   (b) as `app` with hand-written SQL, in the service's own context (O, U) and in wrong ones -- another
 *       organisation with U's id, O with a user id from another organisation, O with no user, an unknown
 *       organisation, no tenant (unset, empty, or only a user id) -- every table shows exactly the model's
 *       visible rows (the other organisations' and users' rows: count 0, also by their keys; only the shared
 *       system roles and templates beyond the context's own), UPDATE and DELETE of every row the context
 *       does not own affect 0 rows (refused outright where `app` lacks the privilege: organizations and
 *       audit_logs; the audit partitions cannot even be read), moving one's own rows to another
 *       organisation or user is refused, and INSERTs claiming another organisation, another user or the
 *       system (each table, with real parents of the victim, and links from own rows to foreign ones) are
 *       ForbiddenError ("row-level security"). Probes roll back.
 *
 * Conversations, their participants and messages are organisation-scoped rows (RLS); on top, the service
 * shows a private conversation (the default) only to its participants and an open one to every member;
 * conversations are created open or private at random. Foreign keys are checked outside RLS, so links to
 * another organisation's rows (a document's template, a memory's conversation) are refused by the service
 * (NotFoundError) and by the policies' WITH CHECK (probes in (b)).
 *
 * FC_RUNS sets the number of runs (default 3). A failing run is reported as it is, without shrinking:
 * database and model accumulate across runs, so a shrunk re-run would start from a different state.
 */
import crypto from "node:crypto";
import fc from "fast-check";
import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../../src/db/errors";
import { APP_ROLE } from "../../src/db/tx";
import * as ws from "../../src/workspace";
import { engineKind, useTestDb } from "../support/db";
import { inSavepoint, rolledBack } from "../support/probe";
import { cosineDistance, makeOrg, randomVector, rng, TABLES } from "../workspace/fixtures";

/** user_preferences.max_memories_per_request when a user never changed it: what both memory searches cap at. */
const DEFAULT_MAX_MEMORIES = 5;
const t = useTestDb();
const RUNS = Number(process.env.FC_RUNS ?? 3);

type Table = (typeof TABLES)[number];
type ErrClass = typeof NotFoundError | typeof ForbiddenError | typeof ValidationError | typeof ConflictError;

const VOCAB = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "hotel", "kilo", "lima", "oscar"] as const;
const TAGS = ["work", "home", "urgent"] as const;
const PERMS = ["tasks:read", "tasks:write", "tasks:*", "memories:read", "docs:write"] as const;
const CHECKED_PERMS = ["tasks:read", "tasks:write", "memories:read", "memories:write", "docs:write"] as const;
const THEMES = ["light", "dark", "system"] as const;
const TASK_STATUSES = ["todo", "in_progress", "done", "cancelled"] as const;
const DOC_STATUSES = ["draft", "generating", "ready", "exported"] as const;
const TODAY = "2031-03-10";
const CAL_BASE = Date.UTC(2031, 2, 10);
const HOUR = 3_600_000;

// Embeddings: a pool of 3 fixed vectors; every memory gets one of them exactly.
const POOL = Array.from({ length: 3 }, (_, i) => randomVector(rng(7000 + i)).map((x) => Math.round(x * 1000) / 1000));
const DIST = POOL.map((q) => POOL.map((v) => cosineDistance(q, v)));

// ---- the model ------------------------------------------------------------------------------------------

interface UserM {
  id: string;
  org: string;
  email: string;
  ctx: ws.WorkspaceContext;
}
interface OrgM {
  id: string;
  users: UserM[];
}
interface MemoryM {
  id: string;
  user: string;
  words: string[];
  content: string;
  title: string | null;
  tags: string[];
  vector: number | null;
  deleted: boolean;
}
interface ConvM {
  id: string;
  org: string;
  type: string;
  open: boolean;
  participants: Map<string, { role: string; readSeq: number | null }>;
}
interface MessageM {
  id: string;
  conv: string;
  sender: string | null;
  content: string;
  seq: number;
  status: string;
  deleted: boolean;
}
interface TaskM {
  id: string;
  org: string;
  user: string;
  status: string;
  due: string | null;
}
interface IntegrationM {
  id: string;
  user: string;
  provider: string;
  access: string | null;
  refresh: string | null;
}
interface SyncedM {
  id: string;
  user: string;
  text: string;
  start?: number;
}
interface EntityM {
  id: string;
  user: string;
  type: string;
  name: string;
  count: number;
}
interface RoleM {
  id: string;
  org: string | null;
  perms: string[];
}
interface TemplateM {
  id: string;
  org: string | null;
  type: string;
  outline: string[];
}

const orgs = new Map<string, OrgM>();
const users = new Map<string, UserM>();
const memories = new Map<string, MemoryM>();
const convs = new Map<string, ConvM>();
const messages = new Map<string, MessageM>();
const usages: { id: string; message: string; memory: string; user: string }[] = [];
const tasks = new Map<string, TaskM>();
const integrations = new Map<string, IntegrationM>();
const synced = { gmail: new Map<string, SyncedM>(), calendar: new Map<string, SyncedM>(), drive: new Map<string, SyncedM>() };
const entities = new Map<string, EntityM>();
const relationships: { id: string; user: string; src: string; dst: string }[] = [];
const mentions: { id: string; user: string; entity: string }[] = [];
const roles = new Map<string, RoleM>();
const grants = new Map<string, { user: string; role: string; org: string; expires: boolean }>();
const templates = new Map<string, TemplateM>();
const documents = new Map<string, { id: string; user: string; status: string; outline: string[] }>();
const devices = new Map<string, { id: string; user: string; token: string; active: boolean }>();
const notifications = new Map<string, { id: string; user: string; read: boolean }>();
const sessions = new Map<string, { id: string; user: string }>();
const prefs = new Map<string, string>(); // user -> theme
const audit = new Map<string, string[]>(); // org -> "action|user|status"
let seq = 0;
let counter = 0;
let setupOrg: OrgM;
let auditPartitions: string[] = [];
/** Organisations whose rows operations may target: the current run's and the setup organisation. */
let scope = new Set<string>();
const since = new Date(Date.now() - 24 * HOUR);

const stats = {
  runs: 0,
  orgs: 0,
  users: 0,
  ops: 0,
  writes: 0,
  refused: 0,
  readsRefused: 0,
  foreignTemplateRefs: 0,
  serviceReads: 0,
  rowsCompared: 0,
  semantic: 0,
  semanticWithTwins: 0,
  contexts: 0,
  tableChecks: 0,
  foreignRowsChecked: 0,
  writesZeroRows: 0,
  writesRejected: 0,
};

const userOf = (id: string) => users.get(id) as UserM;
/** The system role owner (`*`), seeded by the permissions migration; read in beforeAll. */
let ownerRoleId = "";
/** What `user` holds in their organisation: the permissions of their grants (the model's grants do not expire within a run). */
const heldBy = (user: string) => {
  const u = userOf(user);
  return [...grants.values()].filter((g) => g.user === user && g.org === u.org).flatMap((g) => (roles.get(g.role) as RoleM).perms);
};
/** workspace.permission_covers: the same permission, its resource:*, or *. */
const covers = (held: string[], wanted: string) => held.includes("*") || held.includes(wanted) || held.includes(`${wanted.split(":")[0]}:*`);
const holds = (user: string, wanted: string) => covers(heldBy(user), wanted);
const holdsAll = (user: string, wanted: string[]) => wanted.every((w) => holds(user, w));
/** Permanent (non-expiring) owners of the organisation: the ones that keep it owned. */
const owners = (org: string) => [...grants.values()].filter((g) => g.org === org && g.role === ownerRoleId && !g.expires).map((g) => g.user);
const orgOfUser = (id: string) => userOf(id).org;
const audited = (org: string, action: string, user: string | null, status: "success" | "failure" = "success") => {
  const list = audit.get(org) ?? (audit.set(org, []), audit.get(org) as string[]);
  list.push(`${action}|${user ?? "-"}|${status}`);
};
/** A successful write of `me`: its audit row in the model, and the count. */
const wrote = (me: UserM, action: string) => {
  audited(me.org, action, me.id);
  stats.writes++;
};
const sorted = <T>(xs: T[]) => [...xs].sort();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isoDay = (offset: number) => new Date(Date.parse(`${TODAY}T00:00:00Z`) + offset * 86_400_000).toISOString().slice(0, 10);
const wordsOf = (text: string) => new Set(text.split(/\s+/));

/** Everything of one kind that operations of the current run may aim at (own and foreign alike). */
const pools = {
  users: () => [...users.values()].filter((u) => scope.has(u.org)),
  memories: () => [...memories.values()].filter((m) => scope.has(orgOfUser(m.user))),
  convs: () => [...convs.values()].filter((c) => scope.has(c.org)),
  messages: () => [...messages.values()].filter((m) => scope.has((convs.get(m.conv) as ConvM).org)),
  tasks: () => [...tasks.values()].filter((x) => scope.has(x.org)),
  integrations: () => [...integrations.values()].filter((i) => scope.has(orgOfUser(i.user))),
  entities: () => [...entities.values()].filter((e) => scope.has(orgOfUser(e.user))),
  roles: () => [...roles.values()].filter((r) => r.org === null || scope.has(r.org)),
  templates: () => [...templates.values()].filter((x) => x.org === null || scope.has(x.org)),
  documents: () => [...documents.values()].filter((d) => scope.has(orgOfUser(d.user))),
  devices: () => [...devices.values()].filter((d) => scope.has(orgOfUser(d.user))),
  notifications: () => [...notifications.values()].filter((n) => scope.has(orgOfUser(n.user))),
  sessions: () => [...sessions.values()].filter((s) => scope.has(orgOfUser(s.user))),
};
const pick = <T>(xs: T[], i: number): T | undefined => (xs.length ? xs[i % xs.length] : undefined);
/** A target: two times in three one the acting user may use (when there is one), otherwise any of the pool. */
const choose = <T>(xs: T[], own: (x: T) => boolean, i: number): T | undefined => {
  const o = xs.filter(own);
  return i % 3 !== 0 && o.length ? o[Math.floor(i / 3) % o.length] : pick(xs, Math.floor(i / 3));
};

async function newOrg(members: number, label: string): Promise<OrgM> {
  const o = await makeOrg(t.db, members, label);
  const org: OrgM = { id: o.id, users: o.users.map((u, i) => ({ id: u.id, org: o.id, email: u.email, ctx: o.as(i) })) };
  orgs.set(org.id, org);
  for (const u of org.users) users.set(u.id, u);
  // createOrganization (as the platform, no user): the organisation, its first member, who becomes its owner.
  const first = org.users[0] as UserM;
  audited(org.id, "organization.created", null);
  audited(org.id, "user.created", null);
  audited(org.id, "role.granted", null);
  grants.set(`${first.id}/${ownerRoleId}`, { user: first.id, role: ownerRoleId, org: org.id, expires: false });
  // The owner adds the others (users:create).
  for (let i = 1; i < members; i++) audited(org.id, "user.created", first.id);
  return org;
}

/**
 * Call the service as `u`. With `expected` null the call must succeed; with an error class it must fail
 * with it, and the model records the failure audit row (`<prefix>.failed`) the service writes.
 */
async function call<T>(
  u: UserM,
  prefix: string,
  expected: ErrClass | null,
  label: string,
  fn: () => Promise<T>,
  kind: "write" | "read" = "write",
): Promise<T | undefined> {
  if (kind === "read") stats.serviceReads++;
  const outcome = await fn().then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if ("error" in outcome) {
    if (expected === null) throw new Error(`${label}: expected success, got ${String(outcome.error)}`, { cause: outcome.error });
    expect(outcome.error, label).toBeInstanceOf(expected);
    audited(u.org, `${prefix}.failed`, u.id, "failure");
    if (kind === "read") stats.readsRefused++;
    else stats.refused++;
    return undefined;
  }
  expect(expected?.name, `${label}: expected ${expected?.name}, but it succeeded`).toBeUndefined();
  return outcome.value;
}

// ---- operations -------------------------------------------------------------------------------------------

const who = fc.nat({ max: 999 });
const target = fc.nat({ max: 999 });
const word = fc.constantFrom(...VOCAB);
const words = fc.array(word, { minLength: 1, maxLength: 3 });
const noise = fc.string({ unit: fc.constantFrom(..."0123456789 .,;:-_!?#"), maxLength: 12 });

const opArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ k: fc.constant("memory" as const), who, words, title: fc.option(word, { nil: null }), tags: fc.subarray([...TAGS]), noise }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant("embed" as const),
      who,
      memory: target,
      vector: fc.option(fc.nat({ max: POOL.length - 1 }), { nil: null, freq: 6 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("forget" as const), who, memory: target }) },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant("editMemory" as const), who, memory: target, words, tags: fc.option(fc.subarray([...TAGS]), { nil: undefined }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("conversation" as const),
      who,
      type: fc.constantFrom("direct", "group", "group", "ai_chat"),
      others: fc.array(target, { maxLength: 2 }),
      open: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant("join" as const), who, conv: target, others: fc.array(target, { minLength: 1, maxLength: 2 }), admin: fc.boolean() }),
  },
  { weight: 4, arbitrary: fc.record({ k: fc.constant("send" as const), who, conv: target, words, ai: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("markRead" as const), who, conv: target }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("editMessage" as const), who, message: target, words }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("deleteMessage" as const), who, message: target }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("messageStatus" as const), who, message: target, status: fc.constantFrom("delivered", "read") }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("leave" as const), who, conv: target }) },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant("useMemories" as const), who, message: target, memories: fc.uniqueArray(target, { minLength: 1, maxLength: 2 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("task" as const),
      who,
      words,
      due: fc.option(fc.integer({ min: -3, max: 12 }), { nil: null }),
      priority: fc.constantFrom("low", "medium", "high", "urgent"),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("taskStatus" as const), who, task: target, status: fc.constantFrom(...TASK_STATUSES) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("editTask" as const), who, task: target, words, assignee: fc.option(target, { nil: null }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("connect" as const), who, provider: fc.constantFrom("google", "microsoft"), refresh: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant("integrationState" as const),
      who,
      integration: target,
      status: fc.constantFrom("active", "expired", "error", "disconnected"),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant("sync" as const),
      who,
      integration: target,
      kind: fc.constantFrom("gmail", "drive", "calendar"),
      rows: fc.array(fc.record({ key: fc.nat({ max: 4 }), words }), { minLength: 1, maxLength: 4 }),
      /** Tombstones: provider keys deleted at the provider (applied after the rows). */
      gone: fc.array(fc.nat({ max: 4 }), { maxLength: 2 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("observe" as const),
      who,
      type: fc.constantFrom("person", "project"),
      name: fc.constantFrom("Ada", "Bob", "Acme"),
      alias: fc.option(word, { nil: undefined }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("relate" as const), who, src: target, dst: target }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("mention" as const), who, entity: target }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("role" as const), who, perms: fc.subarray([...PERMS], { minLength: 1 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("grant" as const), who, user: target, role: target, expires: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("revoke" as const), who, user: target, role: target }) },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant("template" as const), who, type: fc.constantFrom("memo", "report"), outline: fc.array(word, { maxLength: 3 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant("document" as const), who, template: fc.option(target, { nil: null }), type: fc.constantFrom("memo", "report") }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("documentStatus" as const), who, document: target, status: fc.constantFrom(...DOC_STATUSES) }) },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant("device" as const), who, token: fc.nat({ max: 2 }), platform: fc.constantFrom("ios", "android", "web") }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("deactivate" as const), who, device: target }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("notify" as const), who, recipient: fc.option(target, { nil: null }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("markNotifications" as const), who, ids: fc.array(target, { minLength: 1, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("session" as const), who }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("endSession" as const), who, session: target }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("prefs" as const), who, theme: fc.constantFrom(...THEMES) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("look" as const),
      who,
      seed: target,
      word,
      query: fc.nat({ max: POOL.length - 1 }),
      topK: fc.integer({ min: 1, max: 6 }),
      tags: fc.subarray([...TAGS], { maxLength: 2 }),
    }),
  },
);
type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;
type Look = Extract<Op, { k: "look" }>;

async function apply(op: Op, runUsers: UserM[]): Promise<void> {
  const me = runUsers[op.who % runUsers.length] as UserM;
  const db = t.db;
  const ctx = me.ctx;
  const mine = (user: string) => user === me.id;
  const inMyOrg = (org: string | null) => org === me.org;
  stats.ops++;
  switch (op.k) {
    case "memory": {
      const content = [...op.words, op.noise].join(" ").trim() || op.words.join(" ");
      const m = await call(me, "memory", null, "createMemory", () =>
        ws.createMemory(db, ctx, { content, ...(op.title ? { title: op.title } : {}), tags: op.tags, metadata: { n: ++counter } }),
      );
      memories.set(m!.id, {
        id: m!.id,
        user: me.id,
        words: [...(op.title ? [op.title] : []), ...op.words],
        content,
        title: op.title,
        tags: op.tags,
        vector: null,
        deleted: false,
      });
      wrote(me, "memory.created");
      return;
    }
    case "embed": {
      const m = choose(pools.memories(), (x) => mine(x.user), op.memory);
      if (!m) return;
      const ok = mine(m.user) && !m.deleted;
      const input: ws.EmbeddingUpdate =
        op.vector === null ? { id: m.id, status: "failed" } : { id: m.id, status: "completed", embedding: POOL[op.vector] as number[], model: "pool" };
      const r = await call(me, "memory", ok ? null : NotFoundError, `setEmbedding of ${m.id} by ${me.id}`, () => ws.setEmbedding(db, ctx, input));
      if (r) {
        m.vector = op.vector;
        stats.writes++;
      }
      return;
    }
    case "forget": {
      const m = choose(pools.memories(), (x) => mine(x.user), op.memory);
      if (!m) return;
      const ok = mine(m.user) && !m.deleted;
      await call(me, "memory", ok ? null : NotFoundError, `deleteMemory ${m.id} by ${me.id}`, () => ws.deleteMemory(db, ctx, { id: m.id }));
      if (ok) {
        m.deleted = true;
        wrote(me, "memory.deleted");
      }
      return;
    }
    case "conversation": {
      const people = pools.users();
      const others =
        op.type === "ai_chat"
          ? []
          : op.type === "direct"
            ? [choose(people, (u) => u.org === me.org, op.others[0] ?? op.who) as UserM]
            : op.others.map((i) => choose(people, (u) => u.org === me.org, i) as UserM);
      const ok = others.every((u) => u.org === me.org);
      const input: ws.NewConversation = {
        type: op.type,
        participantIds: others.map((u) => u.id),
        isPrivate: !op.open,
        ...(op.type === "group" ? { name: `group ${++counter}` } : {}),
      };
      const c = await call(me, "conversation", ok ? null : ForbiddenError, `createConversation with ${others.map((u) => u.id)} by ${me.id}`, () =>
        ws.createConversation(db, ctx, input),
      );
      if (c) {
        const participants = new Map<string, { role: string; readSeq: number | null }>([[me.id, { role: "owner", readSeq: null }]]);
        for (const u of others) if (!participants.has(u.id)) participants.set(u.id, { role: "member", readSeq: null });
        convs.set(c.id, { id: c.id, org: me.org, type: op.type, open: op.open, participants });
        wrote(me, "conversation.created");
      }
      return;
    }
    case "join": {
      const c = choose(pools.convs(), (x) => ["owner", "admin"].includes(x.participants.get(me.id)?.role ?? ""), op.conv);
      if (!c) return;
      const newcomers = [...new Set(op.others.map((i) => choose(pools.users(), (u) => u.org === me.org, i) as UserM))];
      const myRole = c.participants.get(me.id)?.role;
      const expected: ErrClass | null = !inMyOrg(c.org)
        ? NotFoundError
        : !myRole || !["owner", "admin"].includes(myRole)
          ? ForbiddenError
          : c.type !== "group"
            ? ValidationError
            : newcomers.every((u) => u.org === me.org)
              ? null
              : ForbiddenError;
      const role = op.admin ? "admin" : "member";
      const r = await call(me, "conversation", expected, `addMembers to ${c.id} by ${me.id}`, () =>
        ws.addMembers(db, ctx, { conversationId: c.id, userIds: newcomers.map((u) => u.id), role }),
      );
      if (r) {
        for (const u of newcomers) if (!c.participants.has(u.id)) c.participants.set(u.id, { role, readSeq: null });
        wrote(me, "conversation.joined");
      }
      return;
    }
    case "send": {
      const c = choose(pools.convs(), (x) => x.participants.has(me.id), op.conv);
      if (!c) return;
      const expected = !inMyOrg(c.org) ? NotFoundError : c.participants.has(me.id) ? null : ForbiddenError;
      const content = op.words.join(" ");
      const m = await call(me, "message", expected, `sendMessage to ${c.id} by ${me.id}`, () =>
        ws.sendMessage(db, ctx, { conversationId: c.id, content, ...(op.ai ? { aiModel: "model-x" } : {}) }),
      );
      if (m) {
        expect(m.sender_id).toBe(op.ai ? null : me.id);
        messages.set(m.id, { id: m.id, conv: c.id, sender: op.ai ? null : me.id, content, seq: ++seq, status: "sent", deleted: false });
        stats.writes++;
      }
      return;
    }
    case "markRead": {
      const c = choose(pools.convs(), (x) => x.participants.has(me.id), op.conv);
      if (!c) return;
      const p = inMyOrg(c.org) ? c.participants.get(me.id) : undefined;
      const r = await call(me, "conversation", p ? null : NotFoundError, `markConversationRead ${c.id} by ${me.id}`, () =>
        ws.markConversationRead(db, ctx, { conversationId: c.id }),
      );
      if (r && p) {
        p.readSeq = ++seq;
        stats.writes++;
        // PGlite's clock has millisecond resolution: a message in the same millisecond would count as read.
        await sleep(2);
      }
      return;
    }
    case "editMessage":
    case "deleteMessage":
    case "messageStatus": {
      const msg = choose(pools.messages(), (x) => !x.deleted && inMyOrg((convs.get(x.conv) as ConvM).org), op.message);
      if (!msg) return;
      const conv = convs.get(msg.conv) as ConvM;
      const role = conv.participants.get(me.id)?.role;
      const visible = inMyOrg(conv.org) && (conv.open || role !== undefined) && !msg.deleted;
      const label = `${op.k} ${msg.id} by ${me.id}`;
      if (op.k === "editMessage") {
        const content = op.words.join(" ");
        const r = await call(me, "message", !visible ? NotFoundError : msg.sender === me.id ? null : ForbiddenError, label, () =>
          ws.editMessage(db, ctx, { messageId: msg.id, content }),
        );
        if (r) {
          expect(r.is_edited, label).toBe(true);
          msg.content = content;
          wrote(me, "message.edited");
        }
      } else if (op.k === "deleteMessage") {
        const may = msg.sender === me.id || role === "owner" || role === "admin";
        const r = await call(me, "message", !visible ? NotFoundError : may ? null : ForbiddenError, label, () =>
          ws.deleteMessage(db, ctx, { messageId: msg.id }),
        );
        if (visible && may) {
          expect(r, label).toBeUndefined();
          msg.deleted = true;
          wrote(me, "message.deleted");
        }
      } else {
        const ok = visible && msg.sender !== me.id && role !== undefined;
        const r = await call(me, "message", !visible ? NotFoundError : ok ? null : ForbiddenError, label, () =>
          ws.setMessageStatus(db, ctx, { messageId: msg.id, status: op.status }),
        );
        if (r) {
          const order = ["sent", "delivered", "read"];
          if (order.indexOf(op.status) > order.indexOf(msg.status)) msg.status = op.status;
          expect(r.status, label).toBe(msg.status);
          stats.writes++;
        }
      }
      return;
    }
    case "leave": {
      const c = choose(pools.convs(), (x) => x.participants.has(me.id), op.conv);
      if (!c) return;
      const mine = inMyOrg(c.org) ? c.participants.get(me.id) : undefined;
      const others = [...c.participants].filter(([u]) => u !== me.id).map(([, x]) => x.role);
      const last =
        c.type === "group" && ["owner", "admin"].includes(mine?.role ?? "") && others.length > 0 && !others.some((r) => r === "owner" || r === "admin");
      const r = await call(me, "conversation", !mine ? NotFoundError : last ? ConflictError : null, `leaveConversation ${c.id} by ${me.id}`, () =>
        ws.leaveConversation(db, ctx, { conversationId: c.id }),
      );
      if (mine && !last) {
        expect(r).toBeUndefined();
        c.participants.delete(me.id);
        wrote(me, "conversation.left");
      }
      return;
    }
    case "editMemory": {
      const m = choose(pools.memories(), (x) => mine(x.user), op.memory);
      if (!m) return;
      const ok = mine(m.user) && !m.deleted;
      const content = op.words.join(" ");
      const r = await call(me, "memory", ok ? null : NotFoundError, `editMemory ${m.id} by ${me.id}`, () =>
        ws.editMemory(db, ctx, { id: m.id, content, ...(op.tags ? { tags: op.tags } : {}) }),
      );
      if (r) {
        // A new text sends the embedding back to pending, cleared: semantic search no longer finds it.
        expect(r.embedding_status).toBe("pending");
        Object.assign(m, { content, words: [...(m.title ? [m.title] : []), ...op.words], vector: null, ...(op.tags ? { tags: op.tags } : {}) });
        wrote(me, "memory.edited");
      }
      return;
    }
    case "editTask": {
      const x = choose(pools.tasks(), (y) => inMyOrg(y.org), op.task);
      if (!x) return;
      const assignee = op.assignee === null ? undefined : choose(pools.users(), (u) => u.org === me.org, op.assignee);
      const expected = !inMyOrg(x.org) || (assignee && assignee.org !== me.org) ? NotFoundError : null;
      const r = await call(me, "task", expected, `editTask ${x.id} to ${assignee?.id} by ${me.id}`, () =>
        ws.editTask(db, ctx, { id: x.id, title: op.words.join(" "), ...(assignee ? { assigneeId: assignee.id } : {}) }),
      );
      if (r) {
        if (assignee) x.user = assignee.id;
        expect(r.user_id).toBe(x.user);
        wrote(me, "task.edited");
      }
      return;
    }
    case "useMemories": {
      const msg = choose(pools.messages(), (x) => inMyOrg((convs.get(x.conv) as ConvM).org), op.message);
      const mems = [...new Set(op.memories.map((i) => choose(pools.memories(), (x) => mine(x.user), i) as MemoryM))].filter(Boolean);
      if (!msg || !mems.length) return;
      // The message must be one the user may read (RLS: a private conversation's only by its participants).
      const conv = convs.get(msg.conv) as ConvM;
      const ok = inMyOrg(conv.org) && (conv.open || conv.participants.has(me.id)) && mems.every((m) => mine(m.user));
      const rows = await call(me, "memory", ok ? null : ForbiddenError, `recordMemoriesUsed ${msg.id} ${mems.map((m) => m.id)} by ${me.id}`, () =>
        ws.recordMemoriesUsed(db, ctx, { messageId: msg.id, memories: mems.map((m, i) => ({ memoryId: m.id, relevanceScore: i / 2 })) }),
      );
      if (rows) {
        for (const r of rows) usages.push({ id: r.id, message: msg.id, memory: r.memory_id, user: me.id });
        stats.writes++;
      }
      return;
    }
    case "task": {
      const due = op.due === null ? null : isoDay(op.due);
      const x = await call(me, "task", null, "createTask", () =>
        ws.createTask(db, ctx, { title: op.words.join(" "), priority: op.priority, ...(due ? { dueDate: due } : {}) }),
      );
      tasks.set(x!.id, { id: x!.id, org: me.org, user: me.id, status: "todo", due });
      wrote(me, "task.created");
      return;
    }
    case "taskStatus": {
      const x = choose(pools.tasks(), (y) => inMyOrg(y.org), op.task);
      if (!x) return;
      const from = x.status as ws.TaskStatus;
      const expected = !inMyOrg(x.org) ? NotFoundError : from === op.status || ws.TRANSITIONS[from].includes(op.status) ? null : ValidationError;
      const r = await call(me, "task", expected, `changeTaskStatus ${x.id} ${from}->${op.status} by ${me.id}`, () =>
        ws.changeTaskStatus(db, ctx, { id: x.id, status: op.status }),
      );
      if (r) {
        expect(r.status).toBe(op.status);
        if (from !== op.status) audited(me.org, "task.status_changed", me.id);
        x.status = op.status;
        stats.writes++;
      }
      return;
    }
    case "connect": {
      const access = `access-${crypto.randomUUID()}`;
      const refresh = op.refresh ? `refresh-${crypto.randomUUID()}` : null;
      const i = await call(me, "integration", null, "connectIntegration", () =>
        ws.connectIntegration(db, ctx, { provider: op.provider, accessToken: access, ...(refresh ? { refreshToken: refresh } : {}) }),
      );
      const before = [...integrations.values()].find((x) => x.user === me.id && x.provider === op.provider);
      if (before) expect(i!.id, "reconnecting keeps the integration").toBe(before.id);
      integrations.set(i!.id, { id: i!.id, user: me.id, provider: op.provider, access, refresh });
      wrote(me, "integration.connected");
      return;
    }
    case "integrationState": {
      const i = choose(pools.integrations(), (x) => mine(x.user), op.integration);
      if (!i) return;
      const r = await call(me, "integration", mine(i.user) ? null : NotFoundError, `setIntegrationState ${i.id} by ${me.id}`, () =>
        ws.setIntegrationState(db, ctx, { id: i.id, status: op.status }),
      );
      if (r) {
        wrote(me, "integration.status_changed");
        // Disconnecting wipes both tokens (issue 15); any other state keeps them.
        if (op.status === "disconnected") integrations.set(i.id, { ...i, access: null, refresh: null });
      }
      return;
    }
    case "sync": {
      const i = choose(pools.integrations(), (x) => mine(x.user), op.integration);
      if (!i) return;
      const store = synced[op.kind];
      const keyOf = (n: number) => (op.kind === "gmail" ? `${i.user}/g${n}` : `${i.user}/${i.provider}/${op.kind[0]}${n}`);
      const last = new Map(op.rows.map((r) => [r.key, r.words.join(" ")]));
      const label = `sync ${op.kind} into ${i.id} by ${me.id}`;
      const at = (n: number) => new Date(CAL_BASE + n * HOUR);
      const send =
        op.kind === "gmail"
          ? () =>
              ws.syncGmailMessages(db, ctx, {
                integrationId: i.id,
                rows: op.rows.map((r) => ({ gmail_id: `g${r.key}`, subject: r.words.join(" ") })),
                deleted: op.gone.map((n) => `g${n}`),
              })
          : op.kind === "drive"
            ? () =>
                ws.syncDriveFiles(db, ctx, {
                  integrationId: i.id,
                  rows: op.rows.map((r) => ({ provider_file_id: `d${r.key}`, name: r.words.join(" ") })),
                  deleted: op.gone.map((n) => `d${n}`),
                })
            : () =>
                ws.syncCalendarEvents(db, ctx, {
                  integrationId: i.id,
                  rows: op.rows.map((r) => ({ provider_event_id: `c${r.key}`, title: r.words.join(" "), start_time: at(r.key), end_time: at(r.key + 1) })),
                  deleted: op.gone.map((n) => `c${n}`),
                });
      const result = await call(me, "sync", mine(i.user) ? null : NotFoundError, label, send);
      if (result) {
        const fresh = [...last.keys()].filter((n) => !store.has(keyOf(n))).length;
        // Tombstones apply after the rows: a key in both ends deleted; a key already gone deletes nothing.
        const gone = [...new Set(op.gone)].filter((n) => last.has(n) || store.has(keyOf(n)));
        expect(result, label).toEqual({ inserted: fresh, updated: last.size - fresh, deleted: gone.length });
        const ids = await t.db.pool.query<{ id: string; k: string }>(
          op.kind === "gmail"
            ? "SELECT id, gmail_id AS k FROM workspace.gmail_messages WHERE user_id = $1"
            : `SELECT id, provider_${op.kind === "drive" ? "file" : "event"}_id AS k FROM workspace.${op.kind === "drive" ? "drive_files" : "calendar_events"} WHERE user_id = $1 AND provider = $2`,
          op.kind === "gmail" ? [i.user] : [i.user, i.provider],
        );
        const idOf = new Map(ids.rows.map((r) => [r.k, r.id]));
        for (const [n, text] of last) {
          if (!gone.includes(n)) store.set(keyOf(n), { id: idOf.get(`${op.kind[0]}${n}`) as string, user: i.user, text, start: n });
        }
        for (const n of gone) store.delete(keyOf(n));
        wrote(me, "integration.synced");
      }
      return;
    }
    case "observe": {
      const e = await call(me, "entity", null, "observeEntity", () =>
        ws.observeEntity(db, ctx, { entityType: op.type, name: op.name, ...(op.alias ? { aliases: [op.alias] } : {}) }),
      );
      const before = entities.get(e!.id);
      expect(e!.mention_count, "mention_count counts this user's observations only").toBe((before?.count ?? 0) + 1);
      entities.set(e!.id, { id: e!.id, user: me.id, type: op.type, name: op.name, count: (before?.count ?? 0) + 1 });
      stats.writes++;
      return;
    }
    case "relate": {
      const src = choose(pools.entities(), (x) => mine(x.user), op.src);
      const dst = choose(pools.entities(), (x) => mine(x.user), op.dst);
      if (!src || !dst) return;
      const expected = src.id === dst.id ? ValidationError : mine(src.user) && mine(dst.user) ? null : ForbiddenError;
      const r = await call(me, "entity", expected, `relateEntities ${src.id} ${dst.id} by ${me.id}`, () =>
        ws.relateEntities(db, ctx, { sourceEntityId: src.id, targetEntityId: dst.id, relationshipType: "knows" }),
      );
      if (r) {
        relationships.push({ id: r.id, user: me.id, src: src.id, dst: dst.id });
        stats.writes++;
      }
      return;
    }
    case "mention": {
      const e = choose(pools.entities(), (x) => mine(x.user), op.entity);
      if (!e) return;
      const r = await call(me, "entity", mine(e.user) ? null : ForbiddenError, `recordMention of ${e.id} by ${me.id}`, () =>
        ws.recordMention(db, ctx, { entityId: e.id, sourceType: "memory", sourceId: crypto.randomUUID() }),
      );
      if (r) {
        mentions.push({ id: r.id, user: me.id, entity: e.id });
        stats.writes++;
      }
      return;
    }
    case "role": {
      // roles:create, and only permissions the creator holds.
      const ok = holds(me.id, "roles:create") && holdsAll(me.id, op.perms);
      const r = await call(me, "role", ok ? null : ForbiddenError, `createRole ${op.perms} by ${me.id}`, () =>
        ws.createRole(db, ctx, { name: `role ${++counter}`, permissions: op.perms }),
      );
      if (r) {
        roles.set(r.id, { id: r.id, org: me.org, perms: op.perms });
        wrote(me, "role.created");
      }
      return;
    }
    case "grant": {
      const u = choose(pools.users(), (x) => x.org === me.org, op.user) as UserM;
      const r = choose(pools.roles(), (x) => x.org === null || x.org === me.org, op.role) as RoleM;
      // roles:grant, a member and a role of the organisation, and only roles within the grantor's permissions;
      // renewing the last permanent owner's grant with an expiry would leave the organisation without one.
      const before = grants.get(`${u.id}/${r.id}`);
      const expected: ErrClass | null = !(holds(me.id, "roles:grant") && u.org === me.org && (r.org === null || r.org === me.org) && holdsAll(me.id, r.perms))
        ? ForbiddenError
        : r.id === ownerRoleId && op.expires && before && !before.expires && owners(me.org).length === 1
          ? ConflictError
          : null;
      const g = await call(me, "role", expected, `grantRole ${r.id} to ${u.id} by ${me.id}`, () =>
        ws.grantRole(db, ctx, { userId: u.id, roleId: r.id, ...(op.expires ? { expiresAt: new Date(Date.now() + 24 * HOUR) } : {}) }),
      );
      if (g) {
        grants.set(`${u.id}/${r.id}`, { user: u.id, role: r.id, org: me.org, expires: op.expires });
        wrote(me, "role.granted");
      }
      return;
    }
    case "revoke": {
      // Half the time a grant of the organisation, otherwise any user and role.
      const mineGrants = [...grants.values()].filter((g) => g.org === me.org);
      const aGrant = op.user % 2 === 0 ? pick(mineGrants, op.user >> 1) : undefined;
      const u = aGrant ? userOf(aGrant.user) : (pick(pools.users(), op.user) as UserM);
      const r = aGrant ? (roles.get(aGrant.role) as RoleM) : (pick(pools.roles(), op.role) as RoleM);
      const g = grants.get(`${u.id}/${r.id}`);
      // roles:revoke first (checked as the transaction opens); then the grant must be the organisation's, within
      // the actor's permissions, and not the last owner's.
      const expected: ErrClass | null = !holds(me.id, "roles:revoke")
        ? ForbiddenError
        : g === undefined || g.org !== me.org
          ? NotFoundError
          : !holdsAll(me.id, r.perms)
            ? ForbiddenError
            : r.id === ownerRoleId && !g.expires && owners(me.org).length === 1
              ? ConflictError
              : null;
      const ok = expected === null;
      await call(me, "role", expected, `revokeRole ${r.id} of ${u.id} by ${me.id}`, () => ws.revokeRole(db, ctx, { userId: u.id, roleId: r.id }));
      if (ok) {
        grants.delete(`${u.id}/${r.id}`);
        wrote(me, "role.revoked");
      }
      return;
    }
    case "template": {
      const x = await call(me, "template", holds(me.id, "templates:create") ? null : ForbiddenError, `createTemplate by ${me.id}`, () =>
        ws.createTemplate(db, ctx, { name: `template ${++counter}`, documentType: op.type, outline: op.outline }),
      );
      if (x) {
        templates.set(x.id, { id: x.id, org: me.org, type: op.type, outline: op.outline });
        wrote(me, "template.created");
      }
      return;
    }
    case "document": {
      const tpl = op.template === null ? undefined : choose(pools.templates(), (x) => x.org === null || x.org === me.org, op.template);
      const visible = tpl === undefined || tpl.org === null || tpl.org === me.org;
      const input = { documentType: op.type, title: `document ${++counter}`, ...(tpl ? { templateId: tpl.id } : {}) };
      const label = `createDocument from template ${tpl?.id} (${tpl?.org ?? "system"}) by ${me.id}`;
      // Another organisation's template is not found (the foreign key alone would admit its id: FK checks
      // bypass RLS; the service and the documents policy refuse it).
      const d = await call(me, "document", visible ? null : NotFoundError, label, () => ws.createDocument(db, ctx, input));
      if (!d) {
        stats.foreignTemplateRefs++;
        return;
      }
      expect(d.outline, label).toEqual(tpl ? tpl.outline : []);
      documents.set(d.id, { id: d.id, user: me.id, status: "draft", outline: d.outline });
      wrote(me, "document.created");
      return;
    }
    case "documentStatus": {
      const d = choose(pools.documents(), (x) => mine(x.user), op.document);
      if (!d) return;
      const from = d.status as ws.DocumentStatus;
      const expected = !mine(d.user) ? NotFoundError : from === op.status || ws.DOCUMENT_TRANSITIONS[from].includes(op.status) ? null : ValidationError;
      const r = await call(me, "document", expected, `updateDocumentStatus ${d.id} ${from}->${op.status} by ${me.id}`, () =>
        ws.updateDocumentStatus(db, ctx, { id: d.id, status: op.status }),
      );
      if (r) {
        if (from !== op.status) audited(me.org, "document.status_changed", me.id);
        d.status = op.status;
        stats.writes++;
      }
      return;
    }
    case "device": {
      const token = `device-token-${op.token}`;
      const d = await call(me, "device", null, "registerDevice", () => ws.registerDevice(db, ctx, { deviceToken: token, platform: op.platform }));
      const before = [...devices.values()].find((x) => x.user === me.id && x.token === token);
      if (before) expect(d!.id).toBe(before.id);
      devices.set(d!.id, { id: d!.id, user: me.id, token, active: true });
      wrote(me, "device.registered");
      return;
    }
    case "deactivate": {
      const d = choose(pools.devices(), (x) => mine(x.user), op.device);
      if (!d) return;
      const r = await call(me, "device", mine(d.user) ? null : NotFoundError, `deactivateDevice ${d.id} by ${me.id}`, () =>
        ws.deactivateDevice(db, ctx, { deviceId: d.id }),
      );
      if (r) {
        d.active = false;
        wrote(me, "device.deactivated");
      }
      return;
    }
    case "notify": {
      const to = op.recipient === null ? me : (choose(pools.users(), (x) => mine(x.id), op.recipient) as UserM);
      const n = await call(me, "notification", mine(to.id) ? null : ForbiddenError, `notify ${to.id} by ${me.id}`, () =>
        ws.notify(db, ctx, { type: "task.due", title: "due", ...(op.recipient === null ? {} : { userId: to.id }) }),
      );
      if (n) {
        notifications.set(n.id, { id: n.id, user: me.id, read: false });
        stats.writes++;
      }
      return;
    }
    case "markNotifications": {
      const ns = [...new Set(op.ids.map((i) => choose(pools.notifications(), (x) => mine(x.user), i)).filter((n) => n !== undefined))];
      if (!ns.length) return;
      const expected = ns.filter((n) => mine(n.user) && !n.read);
      const got = await call(me, "notification", null, "markNotificationsRead", () => ws.markNotificationsRead(db, ctx, { ids: ns.map((n) => n.id) }));
      expect(sorted(got!), `markNotificationsRead by ${me.id}: only the user's own unread ones`).toEqual(sorted(expected.map((n) => n.id)));
      for (const n of expected) n.read = true;
      stats.writes++;
      return;
    }
    case "session": {
      const s = await call(me, "session", null, "createSession", () => ws.createSession(db, ctx, { ttlSeconds: 3600 }));
      sessions.set(s!.session_id, { id: s!.session_id, user: me.id });
      wrote(me, "session.created");
      return;
    }
    case "endSession": {
      const s = choose(pools.sessions(), (x) => mine(x.user), op.session);
      if (!s) return;
      await call(me, "session", mine(s.user) ? null : NotFoundError, `endSession ${s.id} by ${me.id}`, () => ws.endSession(db, ctx, { sessionId: s.id }));
      if (mine(s.user)) {
        sessions.delete(s.id);
        wrote(me, "session.ended");
      }
      return;
    }
    case "prefs": {
      const p = await call(me, "preferences", null, "updatePreferences", () => ws.updatePreferences(db, ctx, { theme: op.theme }));
      expect(p!.theme).toBe(op.theme);
      prefs.set(me.id, op.theme);
      wrote(me, "preferences.updated");
      return;
    }
    case "look":
      return look(me, op);
  }
}

// ---- property (a): every read through the service, as one user --------------------------------------------

/** Up to three targets: one of the user's (or organisation's) own, one not, and one at random. */
function trio<T>(xs: T[], own: (x: T) => boolean, seed: number): T[] {
  const a = xs.filter(own);
  const b = xs.filter((x) => !own(x));
  return [...new Set([pick(a, seed), pick(b, seed), pick(xs, seed * 7 + 3)].filter((x) => x !== undefined))];
}

async function read<T>(fn: () => Promise<T>): Promise<T> {
  stats.serviceReads++;
  return fn();
}

async function look(me: UserM, o: Pick<Look, "seed" | "word" | "query" | "topK" | "tags">): Promise<void> {
  const db = t.db;
  const ctx = me.ctx;
  const L = (what: string) => `${what} as ${me.id} of ${me.org}`;
  const compare = (n: number) => (stats.rowsCompared += n);

  // Memories by id: the user's own live ones only.
  for (const m of trio(pools.memories(), (x) => x.user === me.id, o.seed)) {
    const ok = m.user === me.id && !m.deleted;
    const got = await call(me, "memory", ok ? null : NotFoundError, L(`getMemory ${m.id}`), () => ws.getMemory(db, ctx, { id: m.id }), "read");
    if (got) {
      expect({ content: got.content, title: got.title, tags: got.tags, user: got.user_id }, L("memory")).toEqual({
        content: m.content,
        title: m.title,
        tags: m.tags,
        user: me.id,
      });
      compare(1);
    }
  }

  // Semantic search: all of the user's embedded live memories (k = 100), the top k with tags, and all of
  // them again for the exact embedding of another user's memory (of this organisation or another).
  const eligible = (tags: string[]) =>
    [...memories.values()].filter((m) => m.user === me.id && !m.deleted && m.vector !== null && tags.every((x) => m.tags.includes(x)));
  const twin = pick(
    [...memories.values()].filter((m) => m.user !== me.id && !m.deleted && m.vector !== null),
    o.seed,
  );
  const searches: [number, number, string[]][] = [
    [o.query, 100, []],
    [o.query, o.topK, o.tags],
    ...(twin ? [[twin.vector as number, 100, []] as [number, number, string[]]] : []),
  ];
  for (const [query, k, tags] of searches) {
    const hits = await read(() =>
      ws.semanticSearchMemories(db, ctx, { embedding: POOL[query] as number[], k, ...(tags.length ? { tags } : {}), efSearch: 200 }),
    );
    const pool = eligible(tags);
    const byId = new Map(pool.map((m) => [m.id, m]));
    const label = L(`semanticSearch (pool vector ${query}, k ${k}, tags ${tags})`);
    for (const h of hits) {
      const m = byId.get(h.id);
      expect(m, `${label}: returned ${h.id}, not one of the user's live embedded memories`).toBeDefined();
      expect(Number(h.distance), label).toBeCloseTo(DIST[query]![m!.vector!]!, 4);
    }
    // Ties (memories with the same pool vector) may come back in any order: compare the distances.
    // Searches return at most the user's max_memories_per_request (the model's users keep the default, 5).
    const want = pool
      .map((m) => DIST[query]![m.vector!]!)
      .sort((a, b) => a - b)
      .slice(0, Math.min(k, DEFAULT_MAX_MEMORIES));
    expect(hits.length, `${label}: number of hits`).toBe(want.length);
    hits.forEach((h, i) => expect(Number(h.distance), `${label}: hit ${i}`).toBeCloseTo(want[i] as number, 4));
    stats.semantic++;
    if ([...memories.values()].some((m) => m.user !== me.id && !m.deleted && m.vector === query)) stats.semanticWithTwins++;
    compare(hits.length);
  }

  // Keyword search over the user's live memories.
  const kw = await read(() => ws.keywordSearchMemories(db, ctx, { query: o.word, limit: 200 }));
  const kwWant = [...memories.values()].filter((m) => m.user === me.id && !m.deleted && m.words.includes(o.word));
  if (kwWant.length <= DEFAULT_MAX_MEMORIES) expect(sorted(kw.map((h) => h.id)), L(`keywordSearch ${o.word}`)).toEqual(sorted(kwWant.map((m) => m.id)));
  else {
    // More matches than the cap: the best-ranked DEFAULT_MAX_MEMORIES of them (ranking is not modelled).
    expect(kw.length, L(`keywordSearch ${o.word}: capped`)).toBe(DEFAULT_MAX_MEMORIES);
    for (const h of kw)
      expect(
        kwWant.map((m) => m.id),
        L(`keywordSearch ${o.word}: returned ${h.id}`),
      ).toContain(h.id);
  }
  compare(kw.length);

  // Conversations: messages and participants of a conversation: another organisation's is not found, a
  // private one of the organisation is refused unless the user takes part, an open one is readable by every
  // member. Unread counts and message search cover the user's own conversations.
  for (const c of trio(pools.convs(), (x) => x.org === me.org, o.seed)) {
    const refused = c.org !== me.org ? NotFoundError : !c.open && !c.participants.has(me.id) ? ForbiddenError : null;
    const msgs = await call(
      me,
      "message",
      refused,
      L(`messagesOf ${c.id} (${c.org}, ${c.open ? "open" : "private"})`),
      () => ws.messagesOf(db, ctx, { conversationId: c.id, limit: 500 }),
      "read",
    );
    const ps = await call(me, "conversation", refused, L(`participantsOf ${c.id}`), () => ws.participantsOf(db, ctx, { conversationId: c.id }), "read");
    if (refused) continue;
    const want = [...messages.values()].filter((m) => m.conv === c.id && !m.deleted);
    expect(sorted(msgs!.map((m) => `${m.id} ${m.sender_id} ${m.content}`)), L(`messagesOf ${c.id} (${c.org})`)).toEqual(
      sorted(want.map((m) => `${m.id} ${m.sender} ${m.content}`)),
    );
    expect(sorted(ps!.map((p) => `${p.user_id} ${p.role}`)), L(`participantsOf ${c.id}`)).toEqual(
      sorted([...c.participants].map(([u, p]) => `${u} ${p.role}`)),
    );
    compare(msgs!.length + ps!.length);
  }
  const unread = await read(() => ws.unreadCounts(db, ctx));
  const unreadWant = new Map(
    [...convs.values()]
      .filter((c) => c.participants.has(me.id))
      .map((c) => {
        const readSeq = c.participants.get(me.id)?.readSeq ?? -1;
        return [c.id, [...messages.values()].filter((m) => m.conv === c.id && !m.deleted && m.sender !== me.id && m.seq > readSeq).length] as const;
      }),
  );
  expect(unread, L("unreadCounts")).toEqual(unreadWant);
  compare(unread.size);
  const found = await read(() => ws.searchMessages(db, ctx, { query: o.word, limit: 200 }));
  const foundWant = [...messages.values()].filter((m) => !m.deleted && convs.get(m.conv)?.participants.has(me.id) && wordsOf(m.content).has(o.word));
  expect(sorted(found.map((m) => m.id)), L(`searchMessages ${o.word}`)).toEqual(sorted(foundWant.map((m) => m.id)));
  compare(found.length);
  for (const msg of trio(pools.messages(), (x) => convs.get(x.conv)?.org === me.org, o.seed)) {
    const used = await read(() => ws.memoriesUsedBy(db, ctx, { messageId: msg.id }));
    const usedWant = usages.filter((u) => u.message === msg.id && u.user === me.id);
    expect(sorted(used.map((u) => u.memory_id)), L(`memoriesUsedBy ${msg.id}`)).toEqual(sorted(usedWant.map((u) => u.memory)));
    compare(used.length);
  }

  // Tasks due (the user's open tasks in the window).
  const days = 3 + (o.seed % 8);
  const due = await read(() => ws.tasksDueSoon(db, ctx, { days, today: TODAY }));
  const dueWant = [...tasks.values()].filter(
    (x) => x.user === me.id && (x.status === "todo" || x.status === "in_progress") && x.due !== null && x.due >= TODAY && x.due <= isoDay(days),
  );
  expect(sorted(due.map((x) => x.id)), L(`tasksDueSoon ${days} days`)).toEqual(sorted(dueWant.map((x) => x.id)));
  compare(due.length);

  // Integrations: tokens of the user's own only; mail and calendar of the user's own only.
  for (const i of trio(pools.integrations(), (x) => x.user === me.id, o.seed)) {
    const tokens = await call(
      me,
      "integration",
      i.user === me.id ? null : NotFoundError,
      L(`integrationTokens ${i.id}`),
      () => ws.integrationTokens(db, ctx, { integrationId: i.id }),
      "read",
    );
    if (tokens) {
      expect(tokens, L("tokens")).toEqual({ access_token: i.access, refresh_token: i.refresh });
      compare(1);
    }
  }
  const mail = await read(() => ws.searchMail(db, ctx, { query: o.word, limit: 200 }));
  const mailWant = [...synced.gmail.values()].filter((g) => g.user === me.id && wordsOf(g.text).has(o.word));
  expect(sorted(mail.map((g) => g.id)), L(`searchMail ${o.word}`)).toEqual(sorted(mailWant.map((g) => g.id)));
  compare(mail.length);
  const from = (o.seed % 5) as number;
  const events = await read(() => ws.calendarBetween(db, ctx, { from: new Date(CAL_BASE + from * HOUR), to: new Date(CAL_BASE + (from + 2) * HOUR) }));
  const eventsWant = [...synced.calendar.values()].filter((e) => e.user === me.id && (e.start as number) < from + 2 && (e.start as number) + 1 >= from);
  expect(sorted(events.map((e) => e.id)), L(`calendarBetween ${from}h..${from + 2}h`)).toEqual(sorted(eventsWant.map((e) => e.id)));
  compare(events.length);

  // Knowledge graph: neighbours and mentions of the user's own entities only.
  for (const e of trio(pools.entities(), (x) => x.user === me.id, o.seed)) {
    const ns = await read(() => ws.entityNeighbours(db, ctx, { entityId: e.id }));
    const nsWant = relationships.filter((r) => r.user === me.id && (r.src === e.id || r.dst === e.id));
    expect(sorted(ns.map((n) => n.relationship_id)), L(`entityNeighbours ${e.id}`)).toEqual(sorted(nsWant.map((r) => r.id)));
    const ms = await read(() => ws.mentionsOf(db, ctx, { entityId: e.id }));
    expect(sorted(ms.map((m) => m.id)), L(`mentionsOf ${e.id}`)).toEqual(
      sorted(mentions.filter((m) => m.user === me.id && m.entity === e.id).map((m) => m.id)),
    );
    compare(ns.length + ms.length);
  }

  // Users, roles and permissions: the organisation's members only.
  for (const u of trio(pools.users(), (x) => x.org === me.org, o.seed)) {
    const member = u.org === me.org;
    const got = await call(me, "user", member ? null : NotFoundError, L(`getUser ${u.id}`), () => ws.getUser(db, ctx, { userId: u.id }), "read");
    if (got) expect(got.email).toBe(u.email);
    const byEmail = await read(() => ws.findUserByEmail(db, ctx, { email: u.email }));
    expect(byEmail?.id ?? null, L(`findUserByEmail ${u.email}`)).toBe(member ? u.id : null);
    const rs = await read(() => ws.rolesOf(db, ctx, { userId: u.id }));
    const rsWant = [...grants.values()].filter((g) => g.user === u.id && g.org === me.org).map((g) => g.role);
    expect(sorted(rs.map((r) => r.id)), L(`rolesOf ${u.id}`)).toEqual(sorted(rsWant));
    const perm = CHECKED_PERMS[o.seed % CHECKED_PERMS.length] as string;
    const has = await read(() => ws.hasPermission(db, ctx, { userId: u.id, permission: perm }));
    const hasWant = rsWant.some((id) => covers((roles.get(id) as RoleM).perms, perm));
    expect(has, L(`hasPermission ${u.id} ${perm}`)).toBe(hasWant);
    compare(2 + rs.length);
  }

  // Templates (the organisation's and the system ones), documents, devices, notifications, preferences.
  const type = o.seed % 3 === 0 ? undefined : o.seed % 3 === 1 ? "memo" : "report";
  const tpls = await read(() => ws.listTemplates(db, ctx, type === undefined ? {} : { documentType: type }));
  const tplWant = [...templates.values()].filter((x) => (x.org === me.org || x.org === null) && (type === undefined || x.type === type));
  expect(sorted(tpls.map((x) => x.id)), L(`listTemplates ${type}`)).toEqual(sorted(tplWant.map((x) => x.id)));
  const docs = await read(() => ws.documentsOfUser(db, ctx, { limit: 500 }));
  const docsWant = [...documents.values()].filter((d) => d.user === me.id);
  expect(sorted(docs.map((d) => `${d.id} ${d.status} ${d.outline.join(",")}`)), L("documentsOfUser")).toEqual(
    sorted(docsWant.map((d) => `${d.id} ${d.status} ${d.outline.join(",")}`)),
  );
  const devs = await read(() => ws.activeDevices(db, ctx));
  expect(sorted(devs.map((d) => d.id)), L("activeDevices")).toEqual(sorted([...devices.values()].filter((d) => d.user === me.id && d.active).map((d) => d.id)));
  const unreadN = await read(() => ws.unreadNotifications(db, ctx, { limit: 500 }));
  expect(sorted(unreadN.map((n) => n.id)), L("unreadNotifications")).toEqual(
    sorted([...notifications.values()].filter((n) => n.user === me.id && !n.read).map((n) => n.id)),
  );
  const p = await read(() => ws.getPreferences(db, ctx));
  expect(p.theme, L("getPreferences")).toBe(prefs.get(me.id) ?? "system");
  prefs.set(me.id, p.theme); // the first read creates the row
  compare(tpls.length + docs.length + devs.length + unreadN.length + 1);

  // The organisation's audit log, to holders of audit:read: exactly the model's rows of this organisation.
  const reader = holds(me.id, "audit:read");
  const log = await call(
    me,
    "audit",
    reader ? null : ForbiddenError,
    L("auditLog"),
    () => ws.auditLog(db, ctx, { from: since, to: new Date(Date.now() + 24 * HOUR), limit: 10_000 }),
    "read",
  );
  if (log) {
    expect(sorted(log.map((r) => `${r.action}|${r.user_id ?? "-"}|${r.status}`)), L("auditLog")).toEqual(sorted(audit.get(me.org) ?? []));
    expect(log.every((r) => r.organization_id === me.org)).toBe(true);
    compare(log.length);
  }
}

// ---- property (b): hand-written SQL as the application role ------------------------------------------------

/** Which organisation and user each modelled row belongs to (user set: private to that user). */
interface Owned {
  key: string;
  org: string | null;
  user: string | null;
  /** Rows of a private conversation: only these users (its participants) see them. */
  members?: ReadonlySet<string>;
  /** A message without a sender (AI or system): a context with no acting user sees it even when private. */
  senderless?: boolean;
}

/** A private conversation's rows are visible to its participants only (RLS since issue 15). */
const membersOf = (c: ConvM): Pick<Owned, "members"> => (c.open ? {} : { members: new Set(c.participants.keys()) });

function rowsOf(table: Table): Owned[] {
  const own = (key: string, user: string): Owned => ({ key, org: orgOfUser(user), user });
  const org = (key: string, o: string | null): Owned => ({ key, org: o, user: null });
  switch (table) {
    case "organizations":
      return [...orgs.keys()].map((id) => org(id, id));
    case "users":
      return [...users.values()].map((u) => org(u.id, u.org));
    case "user_preferences":
      return [...prefs.keys()].map((u) => own(u, u));
    case "sessions":
      return [...sessions.values()].map((s) => own(s.id, s.user));
    case "memories":
      return [...memories.values()].map((m) => own(m.id, m.user));
    case "conversations":
      return [...convs.values()].map((c) => org(c.id, c.org));
    case "conversation_participants":
      return [...convs.values()].flatMap((c) => [...c.participants.keys()].map((u) => ({ ...org(`${c.id}/${u}`, c.org), ...membersOf(c) })));
    case "messages":
      return [...messages.values()].map((m) => ({
        ...org(m.id, (convs.get(m.conv) as ConvM).org),
        ...membersOf(convs.get(m.conv) as ConvM),
        senderless: m.sender === null,
      }));
    case "message_memory_usage":
      return usages.map((u) => {
        const m = messages.get(u.message);
        return { ...own(u.id, u.user), ...(m ? membersOf(convs.get(m.conv) as ConvM) : {}) };
      });
    case "tasks":
      return [...tasks.values()].map((x) => org(x.id, x.org));
    case "integrations":
      return [...integrations.values()].map((i) => own(i.id, i.user));
    case "gmail_messages":
      return [...synced.gmail.values()].map((g) => own(g.id, g.user));
    case "calendar_events":
      return [...synced.calendar.values()].map((e) => own(e.id, e.user));
    case "drive_files":
      return [...synced.drive.values()].map((f) => own(f.id, f.user));
    case "entities":
      return [...entities.values()].map((e) => own(e.id, e.user));
    case "entity_relationships":
      return relationships.map((r) => own(r.id, r.user));
    case "entity_mentions":
      return mentions.map((m) => own(m.id, m.user));
    case "roles":
      return [...roles.values()].map((r) => org(r.id, r.org));
    case "user_roles":
      return [...grants.values()].map((g) => org(`${g.user}/${g.role}`, g.org));
    case "audit_logs":
      return [...audit].flatMap(([o, rows]) => rows.map(() => org(o, o)));
    case "document_templates":
      return [...templates.values()].map((x) => org(x.id, x.org));
    case "documents":
      return [...documents.values()].map((d) => own(d.id, d.user));
    case "devices":
      return [...devices.values()].map((d) => own(d.id, d.user));
    case "notifications":
      return [...notifications.values()].map((n) => own(n.id, n.user));
  }
}

/** The key rowsOf uses, as SQL. audit_logs rows are counted per organisation. */
const KEY_SQL: Partial<Record<Table, string>> = {
  user_preferences: "user_id::text",
  conversation_participants: "conversation_id::text || '/' || user_id::text",
  user_roles: "user_id::text || '/' || role_id::text",
  audit_logs: "organization_id::text",
};
const keySql = (table: Table) => KEY_SQL[table] ?? "id::text";
const SHARED_SYSTEM_ROWS = new Set<Table>(["roles", "document_templates"]);
/** A harmless UPDATE per table; null where `app` has no UPDATE privilege at all. */
const TOUCH: Record<Table, string | null> = {
  organizations: null,
  audit_logs: null,
  users: "display_name = display_name",
  user_preferences: "theme = theme",
  sessions: "user_agent = user_agent",
  memories: "title = title",
  conversations: "name = name",
  conversation_participants: "is_muted = is_muted",
  messages: "is_edited = is_edited",
  message_memory_usage: "relevance_score = relevance_score",
  tasks: "title = title",
  integrations: "status = status",
  gmail_messages: "is_read = is_read",
  calendar_events: "title = title",
  drive_files: "name = name",
  entities: "description = description",
  entity_relationships: "strength = strength",
  entity_mentions: "context = context",
  roles: "description = description",
  user_roles: "expires_at = expires_at",
  document_templates: "instructions = instructions",
  documents: "title = title",
  devices: "is_active = is_active",
  notifications: "is_read = is_read",
};
const NO_DELETE = new Set<Table>(["organizations", "audit_logs"]);

/** How a probe sets the context: exactly as the service does, or by hand (possibly nothing at all). */
interface Probe {
  label: string;
  tenant: string | null;
  user: string | null;
  how: "service" | "set" | "unset";
}

async function asApp(p: Probe, fn: (c: pg.PoolClient) => Promise<void>): Promise<void> {
  await rolledBack(
    (body) =>
      p.how === "service"
        ? t.db.tenant({ tenantId: p.tenant as string, userId: p.user ?? undefined }, body)
        : t.db.transaction(
            async (c) => {
              if (p.how === "set")
                await c.query("SELECT set_config('app.tenant_id', $1, true), set_config('app.user_id', $2, true)", [p.tenant ?? "", p.user ?? ""]);
              return body(c);
            },
            { asApp: true },
          ),
    async (c) => {
      expect((await c.query("SELECT current_user AS u")).rows[0].u, `${p.label}: role`).toBe(APP_ROLE);
      await fn(c);
    },
  );
}

const RLS = /row-level security/;
const NO_PRIVILEGE = /permission denied/;

async function expectRejected(c: pg.PoolClient, what: string, reason: RegExp, sql: string, params: unknown[]): Promise<void> {
  const r = await inSavepoint(c, sql, params);
  const err = "error" in r ? r.error : undefined;
  expect(err, `${what}: ${JSON.stringify(r)}`).toBeInstanceOf(ForbiddenError);
  expect((err as ForbiddenError).message, what).toMatch(reason);
  stats.writesRejected++;
}

/** The probes: what `p` sees, what it can change, and what it may not insert. */
async function checkHandWritten(p: Probe): Promise<void> {
  // The acting user counts only as an active member of the tenant (workspace.current_user_id()).
  const tenantKnown = p.tenant !== null && orgs.has(p.tenant);
  const actor = p.user !== null && tenantKnown && users.get(p.user)?.org === p.tenant ? p.user : null;
  const member = (r: Owned) => r.members === undefined || (actor !== null ? r.members.has(actor) : r.senderless === true);
  const visible = (table: Table, r: Owned) =>
    member(r) &&
    (r.user !== null ? r.user === actor : r.org === null ? SHARED_SYSTEM_ROWS.has(table) : r.org === p.tenant) &&
    // The audit trail only to a member holding audit:read.
    (table !== "audit_logs" || (actor !== null && holds(actor, "audit:read")));
  const writable = (r: Owned) => member(r) && (r.user !== null ? r.user === actor : r.org !== null && r.org === p.tenant);
  const L = (what: string) => `${what} as app with ${p.label}`;
  stats.contexts++;

  await asApp(p, async (c) => {
    // Reads: per table, everything visible (must be exactly the model's) and the invisible rows by key (0).
    const hidden = TABLES.map((tb) => [
      ...new Set(
        rowsOf(tb)
          .filter((r) => !visible(tb, r))
          .map((r) => r.key),
      ),
    ]);
    const cols = TABLES.map(
      (tb, i) =>
        `(SELECT count(*) FROM workspace.${tb})::int AS "${tb}", (SELECT count(*) FROM workspace.${tb} WHERE ${keySql(tb)} = ANY($${i + 1}::text[]))::int AS "${tb} hidden"`,
    );
    const seen = (await c.query(`SELECT ${cols.join(", ")}`, hidden)).rows[0] as Record<string, number>;
    const want: Record<string, number> = {};
    TABLES.forEach((tb, i) => {
      want[tb] = rowsOf(tb).filter((r) => visible(tb, r)).length;
      want[`${tb} hidden`] = 0;
      stats.foreignRowsChecked += (hidden[i] as string[]).length;
    });
    expect(seen, L("rows visible per table (and invisible ones by key)")).toEqual(want);
    stats.tableChecks += TABLES.length;

    // UPDATE and DELETE of every row the context does not own: 0 rows (one statement each, all tables).
    const foreign = (tb: Table) => [
      ...new Set(
        rowsOf(tb)
          .filter((r) => !writable(r))
          .map((r) => r.key),
      ),
    ];
    const upd = TABLES.filter((tb) => TOUCH[tb] !== null);
    const updSql = `WITH ${upd.map((tb, i) => `"${tb}" AS (UPDATE workspace.${tb} SET ${TOUCH[tb]} WHERE ${keySql(tb)} = ANY($${i + 1}::text[]) RETURNING 1)`).join(", ")}
      SELECT ${upd.map((tb) => `(SELECT count(*) FROM "${tb}")::int AS "${tb}"`).join(", ")}`;
    const del = TABLES.filter((tb) => !NO_DELETE.has(tb));
    const delSql = `WITH ${del.map((tb, i) => `"${tb}" AS (DELETE FROM workspace.${tb} WHERE ${keySql(tb)} = ANY($${i + 1}::text[]) RETURNING 1)`).join(", ")}
      SELECT ${del.map((tb) => `(SELECT count(*) FROM "${tb}")::int AS "${tb}"`).join(", ")}`;
    for (const [what, sql, tables] of [
      ["UPDATE", updSql, upd],
      ["DELETE", delSql, del],
    ] as const) {
      const r = await inSavepoint(c, sql, tables.map(foreign));
      if ("error" in r) throw new Error(L(`${what} of rows it does not own failed: ${String(r.error)}`), { cause: r.error });
      expect(r.row, L(`${what} of rows it does not own (rows affected per table)`)).toEqual(Object.fromEntries(tables.map((tb) => [tb, 0])));
      stats.writesZeroRows += tables.length;
    }
    const others = [...orgs.keys()].filter((o) => o !== p.tenant);
    // `app` may update an organisation's name and settings (its own, holding organization:update): another's is invisible.
    const renamed = await inSavepoint(c, "UPDATE workspace.organizations SET name = name, settings = settings WHERE id::text = ANY($1)", [others]);
    expect(renamed, L("UPDATE another organisation's name")).toEqual({ rowCount: 0 });
    await expectRejected(
      c,
      L("UPDATE another organisation's plan"),
      NO_PRIVILEGE,
      "UPDATE workspace.organizations SET plan_type = plan_type WHERE id::text = ANY($1)",
      [others],
    );
    await expectRejected(c, L("DELETE another organisation"), NO_PRIVILEGE, "DELETE FROM workspace.organizations WHERE id::text = ANY($1)", [others]);
    await expectRejected(
      c,
      L("UPDATE other organisations' audit rows"),
      NO_PRIVILEGE,
      "UPDATE workspace.audit_logs SET action = 'x.y' WHERE organization_id::text = ANY($1)",
      [others],
    );
    await expectRejected(
      c,
      L("DELETE other organisations' audit rows"),
      NO_PRIVILEGE,
      "DELETE FROM workspace.audit_logs WHERE organization_id::text = ANY($1)",
      [others],
    );
    for (const part of auditPartitions) await expectRejected(c, L(`SELECT from audit partition ${part}`), NO_PRIVILEGE, `SELECT count(*) FROM ${part}`, []);

    await insertsClaimingOthers(c, p, actor, L);
    await movesToOthers(c, p, actor, L);
  });
}

/** INSERTs claiming another organisation, another user or the system, with real parents of the victims. */
async function insertsClaimingOthers(c: pg.PoolClient, p: Probe, actor: string | null, L: (s: string) => string): Promise<void> {
  const x = (what: string, sql: string, params: unknown[]) => expectRejected(c, L(`INSERT ${what}`), RLS, sql, params);
  const victimOrgs = [setupOrg.id, ...[...scope].filter((o) => o !== p.tenant && o !== setupOrg.id).slice(0, 1)];
  for (const v of victimOrgs) {
    const vu = (orgs.get(v) as OrgM).users[0] as UserM;
    const vConv = [...convs.values()].find((cv) => cv.org === v);
    const vRole = [...roles.values()].find((r) => r.org === v);
    await x(`a user into ${v}`, "INSERT INTO workspace.users (organization_id, email) VALUES ($1, $2)", [v, `intruder.${crypto.randomUUID()}@example.com`]);
    await x(`a conversation into ${v}`, "INSERT INTO workspace.conversations (organization_id, type) VALUES ($1, 'group')", [v]);
    await x(`a task into ${v}`, "INSERT INTO workspace.tasks (user_id, organization_id, title) VALUES ($1, $2, 'x')", [vu.id, v]);
    await x(`a role into ${v}`, "INSERT INTO workspace.roles (organization_id, name) VALUES ($1, $2)", [v, `intruder ${crypto.randomUUID()}`]);
    await x(`a template into ${v}`, "INSERT INTO workspace.document_templates (organization_id, name, document_type) VALUES ($1, $2, 'memo')", [
      v,
      `intruder ${crypto.randomUUID()}`,
    ]);
    await x(`an audit row into ${v}`, "INSERT INTO workspace.audit_logs (organization_id, action) VALUES ($1, 'user.forged')", [v]);
    if (vConv) {
      await x(`a participant into ${v}'s conversation`, "INSERT INTO workspace.conversation_participants (conversation_id, user_id) VALUES ($1, $2)", [
        vConv.id,
        vu.id,
      ]);
      await x(`a message into ${v}'s conversation`, "INSERT INTO workspace.messages (conversation_id, content) VALUES ($1, 'x')", [vConv.id]);
    }
    if (vRole)
      await x(`a grant of ${v}'s role`, "INSERT INTO workspace.user_roles (user_id, role_id, organization_id) VALUES ($1, $2, $3)", [vu.id, vRole.id, v]);
  }
  await x("a system role", "INSERT INTO workspace.roles (organization_id, name, is_system) VALUES (NULL, $1, true)", [`root ${crypto.randomUUID()}`]);
  await x("a system template", "INSERT INTO workspace.document_templates (organization_id, name, document_type, is_system) VALUES (NULL, $1, 'memo', true)", [
    `root ${crypto.randomUUID()}`,
  ]);
  await expectRejected(c, L("INSERT an organisation"), NO_PRIVILEGE, "INSERT INTO workspace.organizations (name) VALUES ('mine now')", []);

  // Organisation-scoped rows of the context's own organisation that reference another organisation's rows.
  if (p.tenant !== null) {
    const ownConv = [...convs.values()].find((cv) => cv.org === p.tenant);
    const ownRole = [...roles.values()].find((r) => r.org === p.tenant);
    const stranger = (orgs.get(setupOrg.id) as OrgM).users[0] as UserM;
    await x("a task of another organisation's user", "INSERT INTO workspace.tasks (user_id, organization_id, title) VALUES ($1, $2, 'x')", [
      stranger.id,
      p.tenant,
    ]);
    if (ownConv)
      await x(
        "another organisation's user into the own conversation",
        "INSERT INTO workspace.conversation_participants (conversation_id, user_id) VALUES ($1, $2)",
        [ownConv.id, stranger.id],
      );
    if (ownRole)
      await x("a grant to another organisation's user", "INSERT INTO workspace.user_roles (user_id, role_id, organization_id) VALUES ($1, $2, $3)", [
        stranger.id,
        ownRole.id,
        p.tenant,
      ]);
    const orgMembers = orgs.get(p.tenant)?.users ?? [];
    const spoofed = orgMembers.find((u) => u.id !== actor);
    if (ownConv && spoofed)
      await x(
        `a message sent in the name of ${spoofed.id}`,
        "INSERT INTO workspace.messages (conversation_id, sender_id, content) VALUES ($1, $2, 'spoofed')",
        [ownConv.id, spoofed.id],
      );
    const member = orgMembers[0];
    const foreignRole = [...roles.values()].find((r) => r.org === setupOrg.id);
    if (member && foreignRole)
      await x(
        "a grant of another organisation's role in the own organisation",
        "INSERT INTO workspace.user_roles (user_id, role_id, organization_id) VALUES ($1, $2, $3)",
        [member.id, foreignRole.id, p.tenant],
      );
  }

  // Links from the acting user's own rows to another user's: each side must be the user's own. The own
  // entity and memory are made here (the context may write its own rows; the probe rolls back).
  if (actor) {
    const stranger = setupOrg.users[0] as UserM;
    const one = async (sql: string, params: unknown[]) => (await c.query<{ id: string }>(sql, params)).rows[0]?.id as string;
    const ownEntity = await one("INSERT INTO workspace.entities (user_id, entity_type, name) VALUES ($1, 'person', $2) RETURNING id", [
      actor,
      `probe ${crypto.randomUUID()}`,
    ]);
    const ownMemory = await one("INSERT INTO workspace.memories (user_id, content) VALUES ($1, 'probe') RETURNING id", [actor]);
    const theirEntity = [...entities.values()].find((e) => e.user === stranger.id) as EntityM;
    const theirMessage = [...messages.values()].find((m) => convs.get(m.conv)?.org === setupOrg.id) as MessageM;
    await x(
      "a relationship from an own entity to another user's",
      "INSERT INTO workspace.entity_relationships (source_entity_id, target_entity_id, relationship_type) VALUES ($1, $2, 'x')",
      [ownEntity, theirEntity.id],
    );
    await x(
      "a relationship from another user's entity to an own one",
      "INSERT INTO workspace.entity_relationships (source_entity_id, target_entity_id, relationship_type) VALUES ($1, $2, 'x')",
      [theirEntity.id, ownEntity],
    );
    await x("a use of an own memory by another organisation's message", "INSERT INTO workspace.message_memory_usage (message_id, memory_id) VALUES ($1, $2)", [
      theirMessage.id,
      ownMemory,
    ]);
    const theirConv = [...convs.values()].find((cv) => cv.org === setupOrg.id) as ConvM;
    const theirTemplate = [...templates.values()].find((tp) => tp.org === setupOrg.id) as TemplateM;
    await x(
      "an own memory linked to another organisation's conversation",
      "INSERT INTO workspace.memories (user_id, content, conversation_id) VALUES ($1, 'probe', $2)",
      [actor, theirConv.id],
    );
    await x(
      "an own document from another organisation's template",
      "INSERT INTO workspace.documents (user_id, document_type, title, template_id) VALUES ($1, 'memo', 'probe', $2)",
      [actor, theirTemplate.id],
    );
  }

  // Private rows of other users: another organisation's (the setup user, who has a row of every kind), and
  // the claimed user's when the claim does not count (wrong organisation, no tenant), else a colleague's,
  // else a user of another organisation of the run.
  const otherOrg = [...scope].find((o) => o !== p.tenant && o !== setupOrg.id);
  const colleague = p.tenant ? orgs.get(p.tenant)?.users.find((u) => u.id !== actor) : undefined;
  const extra = p.user && p.user !== actor ? p.user : (colleague?.id ?? (otherOrg ? (orgs.get(otherOrg) as OrgM).users[0]?.id : undefined));
  const victims = new Set([(setupOrg.users[0] as UserM).id, ...(extra ? [extra] : [])]);
  for (const v of victims) {
    const vOrg = orgOfUser(v);
    const vMemory = [...memories.values()].find((m) => m.user === v);
    const vMessage = [...messages.values()].find((m) => convs.get(m.conv)?.org === vOrg);
    const vIntegration = [...integrations.values()].find((i) => i.user === v);
    const vEntities = [...entities.values()].filter((e) => e.user === v);
    await x(`preferences of ${v}`, "INSERT INTO workspace.user_preferences (user_id) VALUES ($1)", [v]);
    await x(`a session of ${v}`, "INSERT INTO workspace.sessions (user_id, token_hash, expires_at) VALUES ($1, repeat('a', 64), now() + interval '1 day')", [
      v,
    ]);
    await x(`a memory of ${v}`, "INSERT INTO workspace.memories (user_id, content) VALUES ($1, 'x')", [v]);
    await x(`an integration of ${v}`, "INSERT INTO workspace.integrations (user_id, provider) VALUES ($1, 'notion')", [v]);
    await x(`an entity of ${v}`, "INSERT INTO workspace.entities (user_id, entity_type, name) VALUES ($1, 'person', $2)", [v, crypto.randomUUID()]);
    await x(`a document of ${v}`, "INSERT INTO workspace.documents (user_id, document_type, title) VALUES ($1, 'memo', 'x')", [v]);
    await x(`a device of ${v}`, "INSERT INTO workspace.devices (user_id, device_token, platform) VALUES ($1, $2, 'web')", [v, crypto.randomUUID()]);
    await x(`a notification of ${v}`, "INSERT INTO workspace.notifications (user_id, type) VALUES ($1, 'x')", [v]);
    if (vMemory && vMessage)
      await x(`a use of ${v}'s memory`, "INSERT INTO workspace.message_memory_usage (message_id, memory_id) VALUES ($1, $2)", [vMessage.id, vMemory.id]);
    if (vIntegration) {
      await x(`a gmail message of ${v}`, "INSERT INTO workspace.gmail_messages (user_id, integration_id, gmail_id) VALUES ($1, $2, $3)", [
        v,
        vIntegration.id,
        crypto.randomUUID(),
      ]);
      await x(
        `a calendar event of ${v}`,
        "INSERT INTO workspace.calendar_events (user_id, integration_id, provider, provider_event_id, start_time, end_time) VALUES ($1, $2, 'google', $3, now(), now())",
        [v, vIntegration.id, crypto.randomUUID()],
      );
      await x(
        `a drive file of ${v}`,
        "INSERT INTO workspace.drive_files (user_id, integration_id, provider, provider_file_id, name) VALUES ($1, $2, 'google', $3, 'x')",
        [v, vIntegration.id, crypto.randomUUID()],
      );
    }
    if (vEntities.length >= 2)
      await x(
        `a relationship of ${v}'s entities`,
        "INSERT INTO workspace.entity_relationships (source_entity_id, target_entity_id, relationship_type) VALUES ($1, $2, 'x')",
        [vEntities[0]!.id, vEntities[1]!.id],
      );
    if (vEntities.length)
      await x(`a mention of ${v}'s entity`, "INSERT INTO workspace.entity_mentions (entity_id, source_type, source_id) VALUES ($1, 'memory', $2)", [
        vEntities[0]!.id,
        crypto.randomUUID(),
      ]);
  }
}

/** UPDATEs moving the context's own rows to another organisation or user: refused by the policies' checks. */
async function movesToOthers(c: pg.PoolClient, p: Probe, actor: string | null, L: (s: string) => string): Promise<void> {
  const v = setupOrg.id;
  const vu = (setupOrg.users[0] as UserM).id;
  const moves: [string, boolean, string, unknown[]][] = [
    ["tasks", [...tasks.values()].some((x) => x.org === p.tenant), "UPDATE workspace.tasks SET organization_id = $1 WHERE organization_id = $2", [v, p.tenant]],
    [
      "conversations",
      [...convs.values()].some((x) => x.org === p.tenant),
      "UPDATE workspace.conversations SET organization_id = $1 WHERE organization_id = $2",
      [v, p.tenant],
    ],
    // (roles the actor may not change at all, without roles:update, are not visible to the UPDATE: 0 rows, see test/workspace/permissions.test.ts)
    [
      "roles",
      [...roles.values()].some((x) => x.org === p.tenant && actor !== null && holds(actor, "roles:update") && holdsAll(actor, x.perms)),
      "UPDATE workspace.roles SET organization_id = $1 WHERE organization_id = $2",
      [v, p.tenant],
    ],
    ["memories", [...memories.values()].some((x) => x.user === actor), "UPDATE workspace.memories SET user_id = $1 WHERE user_id = $2", [vu, actor]],
    [
      "notifications",
      [...notifications.values()].some((x) => x.user === actor),
      "UPDATE workspace.notifications SET user_id = $1 WHERE user_id = $2",
      [vu, actor],
    ],
    ["documents", [...documents.values()].some((x) => x.user === actor), "UPDATE workspace.documents SET user_id = $1 WHERE user_id = $2", [vu, actor]],
  ];
  for (const [table, hasOwn, sql, params] of moves) {
    if (hasOwn && p.tenant !== null && p.tenant !== v) await expectRejected(c, L(`moving own ${table} to another organisation/user`), RLS, sql, params);
  }
  await expectRejected(
    c,
    L("moving messages to another conversation or sender"),
    NO_PRIVILEGE,
    "UPDATE workspace.messages SET conversation_id = conversation_id, sender_id = NULL WHERE sender_id = $1",
    [actor],
  );
  await expectRejected(
    c,
    L("moving users to another organisation"),
    NO_PRIVILEGE,
    "UPDATE workspace.users SET organization_id = $1 WHERE organization_id = $2",
    [v, p.tenant],
  );
}

// ---- the tests --------------------------------------------------------------------------------------------

beforeAll(async () => {
  // Shared system rows (made by the platform, on the owner connection): readable by all, writable by none.
  const q = (sql: string) => t.db.pool.query<{ id: string }>(sql);
  const [sysRole] = (
    await q("INSERT INTO workspace.roles (name, is_system, permissions) VALUES ('viewer (system)', true, '{memories:read,tasks:*}') RETURNING id")
  ).rows;
  roles.set(sysRole!.id, { id: sysRole!.id, org: null, perms: ["memories:read", "tasks:*"] });
  // The system roles the permissions migration seeded (owner, admin, member).
  for (const r of (
    await t.db.pool.query<{ id: string; name: string; permissions: string[] }>(
      "SELECT id, name, permissions FROM workspace.roles WHERE organization_id IS NULL AND name IN ('owner', 'admin', 'member')",
    )
  ).rows) {
    roles.set(r.id, { id: r.id, org: null, perms: r.permissions });
    if (r.name === "owner") ownerRoleId = r.id;
  }
  const [sysTpl] = (
    await q(
      "INSERT INTO workspace.document_templates (name, document_type, is_system, outline) VALUES ('Memo (system)', 'memo', true, '{intro,body}') RETURNING id",
    )
  ).rows;
  templates.set(sysTpl!.id, { id: sysTpl!.id, org: null, type: "memo", outline: ["intro", "body"] });
  auditPartitions = (
    await t.db.pool.query<{ p: string }>(
      "SELECT c.oid::regclass::text AS p FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'workspace.audit_logs'::regclass ORDER BY 1",
    )
  ).rows.map((r) => r.p);

  // The setup organisation: one row of every kind, so every probe has a victim with real parents.
  setupOrg = await newOrg(2, "wsiso-setup");
  scope = new Set([setupOrg.id]);
  // Target indices 3n + 1 pick the n-th row the acting user may use (see choose).
  const ops: Op[] = [
    { k: "memory", who: 0, words: ["alpha", "bravo"], title: "charlie", tags: ["work"], noise: "" },
    { k: "embed", who: 0, memory: 1, vector: 0 },
    { k: "memory", who: 1, words: ["alpha"], title: null, tags: [], noise: "" },
    { k: "embed", who: 1, memory: 1, vector: 0 },
    { k: "conversation", who: 0, type: "group", others: [4], open: false },
    { k: "send", who: 0, conv: 1, words: ["alpha"], ai: false },
    { k: "send", who: 1, conv: 1, words: ["delta"], ai: false },
    { k: "useMemories", who: 0, message: 1, memories: [1] },
    { k: "task", who: 0, words: ["echo"], due: 1, priority: "high" },
    { k: "editTask", who: 0, task: 1, words: ["echo", "foxtrot"], assignee: null },
    { k: "messageStatus", who: 1, message: 1, status: "delivered" },
    { k: "connect", who: 0, provider: "google", refresh: true },
    { k: "sync", who: 0, integration: 1, kind: "gmail", rows: [{ key: 0, words: ["alpha"] }], gone: [] },
    { k: "sync", who: 0, integration: 1, kind: "drive", rows: [{ key: 0, words: ["bravo"] }], gone: [] },
    { k: "sync", who: 0, integration: 1, kind: "calendar", rows: [{ key: 1, words: ["kilo"] }], gone: [] },
    { k: "observe", who: 0, type: "person", name: "Ada", alias: undefined },
    { k: "observe", who: 0, type: "project", name: "Acme", alias: undefined },
    { k: "relate", who: 0, src: 1, dst: 4 },
    { k: "mention", who: 0, entity: 1 },
    { k: "role", who: 0, perms: ["tasks:*"] },
    { k: "grant", who: 0, user: 4, role: 4, expires: false },
    { k: "template", who: 0, type: "report", outline: ["lima", "oscar"] },
    { k: "document", who: 0, template: 4, type: "report" },
    { k: "device", who: 0, token: 0, platform: "ios" },
    { k: "notify", who: 0, recipient: null },
    { k: "session", who: 0 },
    { k: "prefs", who: 0, theme: "dark" },
  ];
  for (const op of ops) await apply(op, setupOrg.users);
  expect(stats.refused, "setup: every operation succeeded").toBe(0);
  expect(grants.size, "setup: the owner's grant and one more").toBe(2);
  expect(synced.calendar.size + synced.drive.size + synced.gmail.size, "setup: synced rows").toBe(3);
  stats.ops = 0;
  stats.writes = 0;
});

const runArb = fc.record({
  members: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 4 }),
  ops: fc.array(opArb, { minLength: 20, maxLength: 50, size: "max" }),
  look: fc.record({
    seed: target,
    word,
    query: fc.nat({ max: POOL.length - 1 }),
    topK: fc.integer({ min: 1, max: 6 }),
    tags: fc.subarray([...TAGS], { maxLength: 2 }),
  }),
});

let runNo = 0;

describe("workspace tenant isolation (property-based)", () => {
  it("models every table under row-level security in the workspace schema", async () => {
    const { rows } = await t.db.pool.query<{ t: string; forced: boolean; policies: number }>(`
      SELECT c.relname::text AS t, c.relforcerowsecurity AS forced, (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'workspace' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relrowsecurity
       ORDER BY 1`);
    // When a table is added to the schema, add it to TABLES, rowsOf, TOUCH and the insert probes here.
    expect(rows.map((r) => r.t)).toEqual([...TABLES].sort());
    // conversation_participants is not FORCEd since issue 15: workspace.is_participant() reads it as the owner
    // (a FORCEd table would apply the policy that calls the function to the function itself).
    expect(rows.filter((r) => !r.forced).map((r) => r.t)).toEqual(["conversation_participants", "organizations", "sessions"]);
    expect(rows.filter((r) => r.policies === 0)).toEqual([]);
    for (const tb of TABLES) expect(rowsOf(tb).length, `setup wrote ${tb}`).toBeGreaterThan(0);
  });

  it(`random organisations, users and operations: service reads return only what O/U may see; app in a wrong or no context sees and changes none of it (${RUNS} runs)`, async () => {
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(runArb, async ({ members, ops, look: lk }) => {
        const run = ++runNo;
        stats.runs++;
        const runOrgs: OrgM[] = [];
        for (const n of members) runOrgs.push(await newOrg(n, `wsiso-${run}`));
        scope = new Set([setupOrg.id, ...runOrgs.map((o) => o.id)]);
        const runUsers = runOrgs.flatMap((o) => o.users);
        stats.orgs += runOrgs.length;
        stats.users += runUsers.length;
        for (const op of ops) await apply(op, runUsers);

        // (a) Every read of every user of the run.
        for (const [i, u] of runUsers.entries()) await look(u, { ...lk, seed: lk.seed + i, query: (lk.query + i) % POOL.length });

        // (b) As app: each user in the service's own context; then wrong contexts.
        for (const u of runUsers) await checkHandWritten({ label: `its own context (${u.org}, ${u.id})`, tenant: u.org, user: u.id, how: "service" });
        const o = runOrgs[run % runOrgs.length] as OrgM;
        const next = runOrgs[(run + 1) % runOrgs.length] as OrgM;
        const someone = o.users[run % o.users.length] as UserM;
        const stranger = next.users[run % next.users.length] as UserM;
        await checkHandWritten({
          label: `another organisation ${next.id} and user ${someone.id} of ${o.id}`,
          tenant: next.id,
          user: someone.id,
          how: "service",
        });
        await checkHandWritten({ label: `organisation ${o.id} and a user id ${stranger.id} of ${next.id}`, tenant: o.id, user: stranger.id, how: "service" });
        await checkHandWritten({ label: `organisation ${o.id} and no user`, tenant: o.id, user: null, how: "service" });
        await checkHandWritten({ label: `an unknown organisation and user ${someone.id}`, tenant: crypto.randomUUID(), user: someone.id, how: "service" });
        await checkHandWritten({ label: `no tenant but user ${someone.id}`, tenant: null, user: someone.id, how: "set" });
        await checkHandWritten({ label: "an empty tenant and user", tenant: null, user: null, how: "set" });
        await checkHandWritten({ label: "no tenant and no user set", tenant: null, user: null, how: "unset" });
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    console.log(
      `[workspace-isolation] ${engineKind}: ${stats.runs} runs, ${stats.orgs} random organisations with ${stats.users} users (${orgs.size} organisations in the database); ` +
        `${stats.ops} random operations through the service (${stats.writes} writes, ${stats.refused} writes refused as the model predicted: aimed at other organisations'/users' rows or invalid; ` +
        `${stats.foreignTemplateRefs} of them documents naming another organisation's template); ` +
        `${stats.serviceReads} service reads comparing ${stats.rowsCompared} rows with the model (${stats.readsRefused} reads refused as the model predicted: foreign ids NotFoundError, private conversations ForbiddenError; ` +
        `${stats.semantic} semantic searches, ${stats.semanticWithTwins} with another user holding the identical embedding); ` +
        `${stats.contexts} app contexts: ${stats.tableChecks} table checks (${stats.foreignRowsChecked} foreign rows looked up by key, 0 seen), ` +
        `${stats.writesZeroRows} table UPDATE/DELETE probes affecting 0 rows, ${stats.writesRejected} writes/partition reads rejected; ${Date.now() - started} ms`,
    );
    expect(stats.runs).toBe(RUNS);
  });
});
