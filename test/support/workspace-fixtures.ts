/**
 * Workspace fixtures for the reliability tests (bad-input matrix, injection): one organisation with two
 * members and one row of every kind the service functions take an id of, all made through the service.
 * Also the list of workspace tables and a count/checksum over them, read on the owner connection (which
 * bypasses row-level security, so it sees every organisation's rows).
 */
import crypto from "node:crypto";
import type { Db } from "../../src/db/connect";
import { platformContext } from "../../src/db/operation";
import * as ws from "../../src/workspace";
import { randomVector, rng, TABLES } from "../workspace/fixtures";

/** Every workspace table except the append-only, partitioned audit_logs (checked by status instead). */
export const WORKSPACE_TABLES = TABLES.filter((t): t is Exclude<(typeof TABLES)[number], "audit_logs"> => t !== "audit_logs");
export type WorkspaceTable = (typeof WORKSPACE_TABLES)[number];

/** Row counts of every workspace table, plus audit rows by status. */
export async function workspaceCounts(db: Db): Promise<Record<WorkspaceTable | "audit_success" | "audit_failure", number>> {
  const cols = WORKSPACE_TABLES.map((tb) => `(SELECT count(*) FROM workspace.${tb})::int AS ${tb}`);
  const { rows } = await db.pool.query(
    `SELECT ${cols.join(", ")},
            (SELECT count(*) FROM workspace.audit_logs WHERE status = 'success')::int AS audit_success,
            (SELECT count(*) FROM workspace.audit_logs WHERE status = 'failure')::int AS audit_failure`,
  );
  return rows[0];
}

/** `table:count:md5` of each of `tables` (schema-qualified; every column of every row), in one string. */
export async function tablesChecksum(db: Db, tables: readonly string[]): Promise<string> {
  const parts = await Promise.all(
    tables.map(
      async (tb) =>
        (await db.pool.query<{ h: string; n: string }>(`SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h, count(*) AS n FROM ${tb} x`))
          .rows[0]!,
    ),
  );
  return tables.map((tb, i) => `${tb}:${parts[i]!.n}:${parts[i]!.h}`).join(" ");
}

/** tablesChecksum of every workspace table but audit_logs. */
export const workspaceChecksum = (db: Db) =>
  tablesChecksum(
    db,
    WORKSPACE_TABLES.map((tb) => `workspace.${tb}`),
  );

export interface WorkspaceWorld {
  organizationId: string;
  /** The organisation with no acting user (createUser, organisation-level jobs). */
  system: ws.WorkspaceContext;
  /** Acting as `userId`: the organisation's owner (every permission) and owner of every private row below. */
  ctx: ws.WorkspaceContext;
  userId: string;
  /** A second member of the organisation (participant, grantee), with no role. */
  otherUserId: string;
  sessionId: string;
  sessionToken: string;
  memoryId: string;
  conversationId: string;
  messageId: string;
  taskId: string;
  integrationId: string;
  entityId: string;
  otherEntityId: string;
  roleId: string;
  templateId: string;
  documentId: string;
  deviceId: string;
  notificationId: string;
}

/** An organisation with two members and one row of every kind, made through the service. */
export async function makeWorkspaceWorld(db: Db, label = "ws"): Promise<WorkspaceWorld> {
  const tag = crypto.randomBytes(4).toString("hex");
  const org = await ws.createOrganization(db, platformContext(), {
    name: `${label} ${tag}`,
    slug: `${label}-${tag}`,
    owner: { email: `a.${tag}@example.com`, displayName: "A" },
  });
  const system = ws.workspaceContext({ organizationId: org.id, userId: null });
  const user = org.owner;
  const ctx = ws.workspaceContext({ organizationId: org.id, userId: user.id });
  const other = await ws.createUser(db, ctx, { email: `b.${tag}@example.com`, displayName: "B" });
  const session = await ws.createSession(db, ctx, {});
  const memory = await ws.createMemory(db, ctx, { content: "fixture memory", tags: ["fixture"] });
  await ws.setEmbedding(db, ctx, { id: memory.id, status: "completed", embedding: randomVector(rng(1)), model: "fixture" });
  const conversation = await ws.createConversation(db, ctx, { type: "group", name: "fixture", participantIds: [other.id] });
  const message = await ws.sendMessage(db, ctx, { conversationId: conversation.id, content: "fixture message" });
  const task = await ws.createTask(db, ctx, { title: "fixture task" });
  const integration = await ws.connectIntegration(db, ctx, { provider: "google", accessToken: "fixture-token" });
  const entity = await ws.observeEntity(db, ctx, { entityType: "person", name: "Fixture One" });
  const otherEntity = await ws.observeEntity(db, ctx, { entityType: "person", name: "Fixture Two" });
  const role = await ws.createRole(db, ctx, { name: `fixture ${tag}`, permissions: ["tasks:read"] });
  const template = await ws.createTemplate(db, ctx, { name: `fixture ${tag}`, documentType: "report" });
  const document = await ws.createDocument(db, ctx, { documentType: "report", title: "fixture document" });
  const device = await ws.registerDevice(db, ctx, { deviceToken: `fixture-${tag}`, platform: "ios" });
  const notification = await ws.notify(db, ctx, { type: "fixture.created", title: "fixture" });
  return {
    organizationId: org.id,
    system,
    ctx,
    userId: user.id,
    otherUserId: other.id,
    sessionId: session.session_id,
    sessionToken: session.token,
    memoryId: memory.id,
    conversationId: conversation.id,
    messageId: message.id,
    taskId: task.id,
    integrationId: integration.id,
    entityId: entity.id,
    otherEntityId: otherEntity.id,
    roleId: role.id,
    templateId: template.id,
    documentId: document.id,
    deviceId: device.id,
    notificationId: notification.id,
  };
}
