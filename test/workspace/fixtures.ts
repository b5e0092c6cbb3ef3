/** Shared set-up for the workspace tests: organisations with members, contexts, deterministic embeddings. */
import crypto from "node:crypto";
import type { Db } from "../../src/db/connect";
import { platformContext } from "../../src/db/operation";
import { createOrganization, createUser, EMBEDDING_DIMENSIONS, type User, type WorkspaceContext, workspaceContext } from "../../src/workspace";

export interface Org {
  id: string;
  /** Context of the organisation with no acting user (organisation-level jobs). */
  system: WorkspaceContext;
  users: User[];
  /** Context acting as users[i]. */
  as: (i: number) => WorkspaceContext;
}

/** An organisation whose first member (users[0]) is its owner and created the others (plain members). */
export async function makeOrg(db: Db, members = 2, label = "org"): Promise<Org> {
  const tag = crypto.randomBytes(4).toString("hex");
  const person = (i: number) => ({ email: `user${i}.${tag}@example.com`, displayName: `User ${i}` });
  const org = await createOrganization(db, platformContext(), { name: `${label} ${tag}`, slug: `${label}-${tag}`, owner: person(0) });
  const system = workspaceContext({ organizationId: org.id, userId: null });
  const owner = workspaceContext({ organizationId: org.id, userId: org.owner.id });
  const users: User[] = [org.owner];
  for (let i = 1; i < members; i++) users.push(await createUser(db, owner, person(i)));
  const contexts = users.map((u) => workspaceContext({ organizationId: org.id, userId: u.id }));
  return { id: org.id, system, users, as: (i) => contexts[i] as WorkspaceContext };
}

/** A seeded PRNG (mulberry32), so vector data sets are the same on every run. */
export function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomVector(next: () => number, dims = EMBEDDING_DIMENSIONS): number[] {
  return Array.from({ length: dims }, () => next() * 2 - 1);
}

export function cosineDistance(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += (a[i] as number) * (b[i] as number);
    na += (a[i] as number) ** 2;
    nb += (b[i] as number) ** 2;
  }
  return 1 - dot / Math.sqrt(na * nb);
}

type Query = <T = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<T[]>;
const vec = (x: number) => `[${Array.from({ length: 1536 }, (_, i) => (i === 0 ? x : 0.001)).join(",")}]`;

export const TABLES = [
  "organizations",
  "users",
  "user_preferences",
  "sessions",
  "memories",
  "conversations",
  "conversation_participants",
  "messages",
  "message_memory_usage",
  "tasks",
  "integrations",
  "gmail_messages",
  "calendar_events",
  "drive_files",
  "entities",
  "entity_relationships",
  "entity_mentions",
  "roles",
  "user_roles",
  "audit_logs",
  "documents",
  "document_templates",
  "devices",
  "notifications",
] as const;

export interface World {
  org: string;
  user: string;
  other: string;
  conversation: string;
  message: string;
  memory: string;
  integration: string;
  template: string;
  role: string;
}

/** One row in every table (two users, so cascades can be compared), written as the owner in plain SQL. */
export async function seedWorld(q: Query): Promise<World> {
  const one = async <T>(sql: string, params: unknown[] = []) => (await q<T>(sql, params))[0] as T;
  const { id: org } = await one<{ id: string }>("INSERT INTO workspace.organizations (name, slug) VALUES ('Acme', NULL) RETURNING id");
  const { id: user } = await one<{ id: string }>(
    "INSERT INTO workspace.users (organization_id, email) VALUES ($1, 'a' || gen_random_uuid() || '@x.io') RETURNING id",
    [org],
  );
  const { id: other } = await one<{ id: string }>(
    "INSERT INTO workspace.users (organization_id, email) VALUES ($1, 'b' || gen_random_uuid() || '@x.io') RETURNING id",
    [org],
  );
  await q("INSERT INTO workspace.user_preferences (user_id) VALUES ($1), ($2)", [user, other]);
  await q(
    "INSERT INTO workspace.sessions (user_id, token_hash, expires_at) VALUES ($1, encode(sha256(gen_random_uuid()::text::bytea), 'hex'), now() + interval '1 day')",
    [user],
  );
  const { id: conversation } = await one<{ id: string }>(
    "INSERT INTO workspace.conversations (organization_id, type, created_by) VALUES ($1, 'direct', $2) RETURNING id",
    [org, user],
  );
  await q("INSERT INTO workspace.conversation_participants (conversation_id, user_id, role) VALUES ($1, $2, 'owner'), ($1, $3, 'member')", [
    conversation,
    user,
    other,
  ]);
  const { id: memory } = await one<{ id: string }>(
    "INSERT INTO workspace.memories (user_id, content, tags, metadata, embedding, embedding_status, conversation_id) VALUES ($1, 'remember', '{a}', '{\"k\": 1}', $2, 'completed', $3) RETURNING id",
    [user, vec(1), conversation],
  );
  const { id: message } = await one<{ id: string }>(
    "INSERT INTO workspace.messages (conversation_id, sender_id, content) VALUES ($1, $2, 'hello') RETURNING id",
    [conversation, user],
  );
  await q("INSERT INTO workspace.messages (conversation_id, sender_id, content) VALUES ($1, $2, 'hi back')", [conversation, other]);
  await q("INSERT INTO workspace.message_memory_usage (message_id, memory_id, relevance_score) VALUES ($1, $2, 0.7)", [message, memory]);
  await q("INSERT INTO workspace.tasks (user_id, organization_id, title) VALUES ($1, $2, 'do it'), ($3, $2, 'theirs')", [user, org, other]);
  const { id: integration } = await one<{ id: string }>("INSERT INTO workspace.integrations (user_id, provider) VALUES ($1, 'google') RETURNING id", [user]);
  await q("INSERT INTO workspace.gmail_messages (user_id, integration_id, gmail_id, subject) VALUES ($1, $2, 'g1', 'Hi')", [user, integration]);
  await q(
    "INSERT INTO workspace.calendar_events (user_id, integration_id, provider, provider_event_id, start_time, end_time) VALUES ($1, $2, 'google', 'e1', now(), now() + interval '1 hour')",
    [user, integration],
  );
  await q("INSERT INTO workspace.drive_files (user_id, integration_id, provider, provider_file_id, name) VALUES ($1, $2, 'google', 'f1', 'a.txt')", [
    user,
    integration,
  ]);
  const [e1, e2] = await q<{ id: string }>(
    "INSERT INTO workspace.entities (user_id, entity_type, name) VALUES ($1, 'person', 'Ada'), ($1, 'organization', 'Acme') RETURNING id",
    [user],
  );
  await q("INSERT INTO workspace.entity_relationships (source_entity_id, target_entity_id, relationship_type) VALUES ($1, $2, 'works_at')", [e1!.id, e2!.id]);
  await q("INSERT INTO workspace.entity_mentions (entity_id, source_type, source_id) VALUES ($1, 'memory', $2)", [e1!.id, memory]);
  const { id: role } = await one<{ id: string }>(
    "INSERT INTO workspace.roles (organization_id, name, permissions) VALUES ($1, 'admin', '{users:*}') RETURNING id",
    [org],
  );
  await q("INSERT INTO workspace.user_roles (user_id, role_id, organization_id, granted_by) VALUES ($1, $2, $3, $4)", [other, role, org, user]);
  // The first user owns the organisation (system role owner: every permission, audit:read included).
  await q("INSERT INTO workspace.user_roles (user_id, role_id, organization_id) VALUES ($1, workspace.owner_role_id(), $2)", [user, org]);
  await q("INSERT INTO workspace.audit_logs (organization_id, user_id, action) VALUES ($1, $2, 'user.created')", [org, user]);
  const { id: template } = await one<{ id: string }>(
    "INSERT INTO workspace.document_templates (organization_id, name, document_type) VALUES ($1, 'T', 'report') RETURNING id",
    [org],
  );
  await q("INSERT INTO workspace.documents (user_id, document_type, title, template_id) VALUES ($1, 'report', 'Doc', $2)", [user, template]);
  await q("INSERT INTO workspace.devices (user_id, device_token, platform) VALUES ($1, 'tok', 'ios')", [user]);
  await q("INSERT INTO workspace.notifications (user_id, type) VALUES ($1, 'task.due')", [user]);
  return { org, user, other, conversation, message, memory, integration, template, role };
}
