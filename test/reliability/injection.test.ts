/**
 * Issue 7, item 2 (part): SQL injection payloads in string parameters are stored and read back verbatim
 * and change nothing else (every value travels as a bind parameter).
 *
 * Workspace: every free-text field of every workspace write (also JSON keys and values, array elements,
 * tokens and the context's user agent) takes the payload, runs as role `app` under row-level security, and
 * is read back through the service's own readers. Three kinds of row have no reader in the service (drive
 * files, gmail body_text, session user_agent): those are read on the owner connection.
 */
import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import * as screening from "../../src/screening";
import { ValidationError } from "../../src/db/errors";
import { platformContext } from "../../src/db/operation";
import * as wills from "../../src/wills";
import * as ws from "../../src/workspace";
import { useTestDb } from "../support/db";
import { WORKSPACE_TABLES, type WorkspaceTable, workspaceCounts } from "../support/workspace-fixtures";
import { randomVector, rng } from "../workspace/fixtures";

const t = useTestDb();

const PAYLOADS = [
  "'; DROP TABLE screening.entities; --",
  '" OR "1"="1',
  "' OR 1=1 --",
  "x'); DELETE FROM wills.consent_records; --",
  "$1; SELECT pg_sleep(10)",
  "\\'; TRUNCATE wills.audit_logs; --",
  "Robert'); DROP TABLE Students;--",
  "' UNION SELECT canonical_identifiers FROM screening.entities --",
  "/* comment */ SELECT 1; --",
  "\u2019; DROP SCHEMA core CASCADE; --",
];

async function tableCounts() {
  const { rows } = await t.db.pool.query(`
    SELECT (SELECT count(*) FROM screening.entities)::int AS entities, (SELECT count(*) FROM screening.tenants)::int AS tenants,
           (SELECT count(*) FROM wills.consent_records)::int AS consents, (SELECT count(*) FROM wills.clauses)::int AS clauses,
           (SELECT count(*) FROM screening.cached_data_sources)::int AS cache`);
  return rows[0];
}

describe("injection payloads are data, never SQL", () => {
  it.each(PAYLOADS.map((p, i) => [i, p]))("payload %i round-trips verbatim through every string field", async (i, payload) => {
    const before = await tableCounts();
    const tenant = await screening.createTenant(t.db, platformContext(), { slug: `inj-${i}`, name: payload });
    expect(tenant.name).toBe(payload.trim());
    const ctx = screening.requestContext({ tenantId: tenant.tenant_id, actorId: null, correlationId: crypto.randomUUID() });

    const entity = await screening.createEntity(t.db, ctx, { entityType: "individual", identifiers: { passport: payload } });
    expect(entity.identifiers.passport).toBe(screening.normaliseIdentifier("passport", payload));
    expect((await screening.findEntityByIdentifier(t.db, ctx, { kind: "passport", value: payload }))?.entity_id).toBe(entity.entity_id);

    await screening.createProfileVersion(t.db, ctx, {
      entityId: entity.entity_id,
      triggerType: "manual",
      findings: [{ id: payload, note: payload }],
      riskScore: { reason: payload },
    });
    const profile = await screening.latestProfile(t.db, ctx, { entityId: entity.entity_id });
    expect(profile?.findings).toEqual([{ id: payload, note: payload }]);

    const window = { acquiredAt: new Date(Date.now() - 1000), freshUntil: new Date(Date.now() + 60_000), staleUntil: new Date(Date.now() + 120_000) };
    await screening.storeProviderResponse(t.db, ctx, {
      entityId: entity.entity_id,
      providerId: "p",
      checkType: "c",
      dataOrigin: "customer_provided",
      ...window,
      rawResponse: payload,
      normalizedData: { [payload]: payload },
      cost: 0,
    });
    const [cached] = await screening.lookupCache(t.db, ctx, { entityId: entity.entity_id, checkType: "c" });
    expect(cached?.raw_response).toBe(payload);
    expect(cached?.normalized_data).toEqual({ [payload]: payload });

    const wctx = wills.willsContext({ actorId: null, actorType: "system", correlationId: crypto.randomUUID(), userAgent: payload });
    const consent = await wills.grantConsent(t.db, wctx, {
      dataSubjectId: crypto.randomUUID(),
      categories: { will_drafting: true },
      privacyPolicyVersion: "1",
      consentTextVersion: "1",
      channel: "web",
      userAgent: payload,
    });
    expect(consent.user_agent).toBe(payload);
    const clause = await wills.createClause(t.db, wctx, { code: `inj_${i}`, title: payload, body: payload, category: "general", willTypes: ["single"] });
    expect([clause.title, clause.body]).toEqual([payload, payload]);

    expect(await tableCounts()).toEqual({
      entities: before.entities + 1,
      tenants: before.tenants + 1,
      consents: before.consents + 1,
      clauses: before.clauses + 1,
      cache: before.cache + 1,
    });
  });

  it("payloads used as lookup keys match nothing they should not", async () => {
    const ctx = screening.requestContext({
      tenantId: (await screening.createTenant(t.db, platformContext(), { slug: "inj-lookup", name: "x" })).tenant_id,
      actorId: null,
      correlationId: crypto.randomUUID(),
    });
    expect(await screening.findEntityByIdentifier(t.db, ctx, { kind: "passport", value: "' OR '1'='1" })).toBeNull();
    const wctx = wills.willsContext({ actorId: null, actorType: "system", correlationId: crypto.randomUUID() });
    expect((await wills.listCurrentClauses(t.db, wctx, {})).length).toBeGreaterThan(0);
    await expect(wills.currentClause(t.db, wctx, { code: "x' OR is_current --" })).rejects.toMatchObject({ code: "validation" });
    expect(await wills.hasConsent(t.db, wctx, { dataSubjectId: crypto.randomUUID(), category: "will_drafting" })).toBe(false);
  });
});

/** What one payload run inserts into each workspace table (everything else must stay as it was). */
const WORKSPACE_INSERTS: Partial<Record<WorkspaceTable, number>> = {
  organizations: 1,
  users: 3,
  sessions: 1,
  memories: 1,
  conversations: 1,
  conversation_participants: 2,
  messages: 2,
  message_memory_usage: 1,
  tasks: 1,
  integrations: 1,
  gmail_messages: 1,
  calendar_events: 1,
  drive_files: 1,
  entities: 2,
  entity_relationships: 1,
  entity_mentions: 1,
  roles: 1,
  user_roles: 3,
  document_templates: 1,
  documents: 1,
  devices: 1,
  notifications: 1,
};

describe("workspace: injection payloads are data, never SQL", () => {
  it.each(PAYLOADS.map((p, i) => [i, p]))("payload %i round-trips verbatim through every free-text workspace field", async (i, payload) => {
    const before = { other: await tableCounts(), ws: await workspaceCounts(t.db) };
    const json = { [payload]: payload, nested: [payload, { [payload]: payload }] };
    const today = new Date().toISOString().slice(0, 10);

    // Organisation and users (platform / organisation level).
    const org = await ws.createOrganization(t.db, platformContext(), {
      name: payload,
      slug: `inj-ws-${i}`,
      settings: json,
      owner: { email: `inj-owner${i}@example.com`, displayName: payload },
    });
    expect([org.name, org.settings, org.owner.display_name]).toEqual([payload.trim(), json, payload]);
    const system = ws.workspaceContext({ organizationId: org.id, userId: org.owner.id, userAgent: payload });
    const email = `inj${i}@example.com`;
    const user = await ws.createUser(t.db, system, {
      email,
      passwordHash: payload,
      displayName: payload,
      firstName: payload,
      lastName: payload,
      timezone: payload.slice(0, 50),
    });
    const other = await ws.createUser(t.db, system, { email: `inj${i}.other@example.com` });
    // `user` becomes a second owner, so the RBAC and audit calls below (which need permissions) run as them.
    const ownerRole = (await ws.listRoles(t.db, system)).find((r) => r.is_system && r.name === "owner")!;
    await ws.grantRole(t.db, system, { userId: user.id, roleId: ownerRole.id });
    expect(await ws.getUser(t.db, system, { userId: user.id })).toMatchObject({
      display_name: payload,
      first_name: payload,
      last_name: payload,
      timezone: payload.slice(0, 50),
    });
    expect((await ws.findUserByEmail(t.db, system, { email }))?.id).toBe(user.id);
    const ctx = ws.workspaceContext({ organizationId: org.id, userId: user.id, ipAddress: "10.0.0.1", userAgent: payload });
    const session = await ws.createSession(t.db, ctx, {});
    expect((await ws.resolveSession(t.db, platformContext(), { token: session.token })).user_id).toBe(user.id);

    // Memories: content, title, tags, source id, metadata; read by id, by keyword, by vector.
    const memory = await ws.createMemory(t.db, ctx, { content: payload, title: payload, tags: [payload], sourceId: payload, metadata: json });
    const storedMemory = { content: payload, title: payload, tags: [payload], source_id: payload, metadata: json };
    expect(await ws.getMemory(t.db, ctx, { id: memory.id })).toMatchObject(storedMemory);
    await ws.setEmbedding(t.db, ctx, { id: memory.id, status: "completed", embedding: randomVector(rng(100 + i)), model: payload.slice(0, 100) });
    const [nearest] = await ws.semanticSearchMemories(t.db, ctx, { embedding: randomVector(rng(100 + i)), k: 1, tags: [payload] });
    expect(nearest).toMatchObject({ id: memory.id, content: payload, title: payload, tags: [payload], metadata: json });
    for (const hit of await ws.keywordSearchMemories(t.db, ctx, { query: payload }))
      expect(hit).toMatchObject({ id: memory.id, content: payload, title: payload });

    // Conversations and messages (a user's message and an AI one), memory usage, search.
    const conv = await ws.createConversation(t.db, ctx, { type: "group", name: payload, description: payload, participantIds: [other.id] });
    expect([conv.name, conv.description]).toEqual([payload.trim(), payload]);
    const message = await ws.sendMessage(t.db, ctx, { conversationId: conv.id, content: payload });
    await ws.sendMessage(t.db, ctx, { conversationId: conv.id, content: payload, aiModel: payload });
    const messages = await ws.messagesOf(t.db, ctx, { conversationId: conv.id });
    expect(messages.map((m) => [m.content, m.ai_model]).sort()).toEqual(
      [
        [payload, null],
        [payload, payload],
      ].sort(),
    );
    for (const hit of await ws.searchMessages(t.db, ctx, { query: payload })) expect([hit.conversation_id, hit.content]).toEqual([conv.id, payload]);
    await ws.recordMemoriesUsed(t.db, ctx, { messageId: message.id, memories: [{ memoryId: memory.id, relevanceScore: 0.5 }] });
    expect(await ws.memoriesUsedBy(t.db, ctx, { messageId: message.id })).toMatchObject([{ memory_id: memory.id, title: payload, content: payload }]);

    // Tasks.
    const task = await ws.createTask(t.db, ctx, { title: payload, description: payload, tags: [payload], dueDate: today });
    expect((await ws.tasksDueSoon(t.db, ctx, { today })).map((x) => [x.id, x.title, x.description, x.tags])).toEqual([
      [task.id, payload.trim(), payload, [payload]],
    ]);

    // Integration (tokens encrypted: read back decrypted), sync cursor, synced mail, calendar and drive rows.
    const integration = await ws.connectIntegration(t.db, ctx, {
      provider: "google",
      accessToken: payload,
      refreshToken: payload,
      scopes: [payload],
      providerUserId: payload,
      metadata: json,
    });
    expect(integration).toMatchObject({ scopes: [payload], provider_user_id: payload, metadata: json });
    expect(await ws.integrationTokens(t.db, ctx, { integrationId: integration.id })).toEqual({ access_token: payload, refresh_token: payload });
    expect((await ws.markIntegrationSynced(t.db, ctx, { id: integration.id, syncCursor: payload })).sync_cursor).toBe(payload);
    const mail = {
      gmail_id: payload,
      thread_id: payload,
      subject: payload,
      from_email: payload,
      to_emails: [payload],
      snippet: payload,
      body_text: `${payload} inboxmarker`,
      labels: [payload],
    };
    expect(await ws.syncGmailMessages(t.db, ctx, { integrationId: integration.id, rows: [mail] })).toEqual({ inserted: 1, updated: 0, deleted: 0 });
    expect(await ws.searchMail(t.db, ctx, { query: "inboxmarker" })).toMatchObject([
      { gmail_id: payload, subject: payload, from_email: payload, snippet: payload },
    ]);
    const start = new Date(Date.now() - 60_000);
    const event = {
      provider_event_id: payload,
      calendar_id: payload,
      title: payload,
      description: payload,
      location: payload,
      start_time: start,
      end_time: new Date(start.getTime() + 30_000),
      timezone: payload.slice(0, 50),
      attendees: [json],
      recurrence_rule: payload,
    };
    await ws.syncCalendarEvents(t.db, ctx, { integrationId: integration.id, rows: [event] });
    expect(await ws.calendarBetween(t.db, ctx, { from: new Date(start.getTime() - 1000), to: new Date() })).toMatchObject([
      {
        provider_event_id: payload,
        calendar_id: payload,
        title: payload,
        description: payload,
        location: payload,
        timezone: payload.slice(0, 50),
        attendees: [json],
        recurrence_rule: payload,
      },
    ]);
    await ws.syncDriveFiles(t.db, ctx, {
      integrationId: integration.id,
      rows: [{ provider_file_id: payload, name: payload, mime_type: payload, parent_path: payload }],
    });

    // Knowledge graph.
    const entity = await ws.observeEntity(t.db, ctx, { entityType: "person", name: payload, aliases: [payload], description: payload, metadata: json });
    expect(entity).toMatchObject({ name: payload.trim(), aliases: [payload], description: payload, metadata: json });
    const friend = await ws.observeEntity(t.db, ctx, { entityType: "person", name: `friend ${i}` });
    expect(
      (await ws.relateEntities(t.db, ctx, { sourceEntityId: friend.id, targetEntityId: entity.id, relationshipType: "knows", context: payload })).context,
    ).toBe(payload);
    expect(await ws.entityNeighbours(t.db, ctx, { entityId: friend.id })).toMatchObject([{ id: entity.id, name: payload.trim() }]);
    await ws.recordMention(t.db, ctx, { entityId: entity.id, sourceType: "memory", sourceId: memory.id, context: payload });
    expect(await ws.mentionsOf(t.db, ctx, { entityId: entity.id })).toMatchObject([{ source_id: memory.id, context: payload }]);

    // RBAC, documents, devices, notifications.
    const role = await ws.createRole(t.db, ctx, { name: payload, description: payload, permissions: ["tasks:read"] });
    expect(role.description).toBe(payload);
    await ws.grantRole(t.db, ctx, { userId: other.id, roleId: role.id });
    expect(await ws.rolesOf(t.db, ctx, { userId: other.id })).toMatchObject([{ id: role.id, name: payload.trim() }]);
    const template = await ws.createTemplate(t.db, ctx, { name: payload, documentType: "report", outline: [payload], instructions: payload });
    expect((await ws.listTemplates(t.db, ctx, { documentType: "report" })).filter((x) => x.id === template.id)).toMatchObject([
      { name: payload.trim(), outline: [payload], instructions: payload },
    ]);
    const doc = await ws.createDocument(t.db, ctx, { documentType: "report", title: payload, content: payload, outline: [payload], templateId: template.id });
    await ws.updateDocumentStatus(t.db, ctx, { id: doc.id, status: "ready", content: `${payload}${payload}` });
    expect(await ws.documentsOfUser(t.db, ctx, {})).toMatchObject([
      { id: doc.id, title: payload.trim(), content: `${payload}${payload}`, outline: [payload], status: "ready" },
    ]);
    await ws.registerDevice(t.db, ctx, { deviceToken: payload, platform: "web", deviceName: payload });
    expect(await ws.activeDevices(t.db, ctx, {})).toMatchObject([{ device_token: payload, device_name: payload }]);
    await ws.notify(t.db, ctx, { type: "inj.test", title: payload, body: payload, data: json });
    expect(await ws.unreadNotifications(t.db, ctx, {})).toMatchObject([{ title: payload, body: payload, data: json }]);

    // The context's user agent in the audit trail, and a payload in an audited value.
    const audit = await ws.auditLog(t.db, ctx, { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000) });
    expect(audit.length).toBeGreaterThan(10);
    // (createOrganization writes its rows as the platform, user_id NULL, without a user agent)
    expect(
      audit
        .filter((r) => r.user_id !== null)
        .map((r) => [r.action, r.user_agent, r.status])
        .filter(([, ua, st]) => ua !== payload || st !== "success"),
    ).toEqual([]);
    expect(audit.find((r) => r.action === "task.created")?.new_value).toMatchObject({ title: payload.trim() });

    // No service reader for these: read on the owner connection.
    const q = async (sql: string) => (await t.db.pool.query(sql, [user.id])).rows;
    expect(await q("SELECT provider_file_id, name, mime_type, parent_path FROM workspace.drive_files WHERE user_id = $1")).toEqual([
      { provider_file_id: payload, name: payload, mime_type: payload, parent_path: payload },
    ]);
    expect(await q("SELECT body_text, to_emails, labels, thread_id FROM workspace.gmail_messages WHERE user_id = $1")).toEqual([
      { body_text: `${payload} inboxmarker`, to_emails: [payload], labels: [payload], thread_id: payload },
    ]);
    expect(await q("SELECT user_agent FROM workspace.sessions WHERE user_id = $1")).toEqual([{ user_agent: payload }]);

    // Exactly the intended rows, in the workspace and everywhere else.
    const after = await workspaceCounts(t.db);
    const expected = Object.fromEntries(WORKSPACE_TABLES.map((tb) => [tb, before.ws[tb] + (WORKSPACE_INSERTS[tb] ?? 0)]));
    expect(after).toMatchObject({ ...expected, audit_failure: before.ws.audit_failure });
    expect(await tableCounts()).toEqual(before.other);
  });

  it("payloads used as workspace lookup keys match nothing they should not", async () => {
    const org = await ws.createOrganization(t.db, platformContext(), { name: "inj lookup", slug: "inj-ws-lookup", owner: { email: "lookup@example.com" } });
    const user = org.owner;
    const ctx = ws.workspaceContext({ organizationId: org.id, userId: user.id });
    await ws.createMemory(t.db, ctx, { content: "an ordinary memory" });
    for (const payload of PAYLOADS) {
      await expect(ws.findUserByEmail(t.db, ctx, { email: payload })).rejects.toBeInstanceOf(ValidationError);
      await expect(ws.getUser(t.db, ctx, { userId: payload })).rejects.toBeInstanceOf(ValidationError);
      await expect(ws.listTemplates(t.db, ctx, { documentType: payload })).rejects.toBeInstanceOf(ValidationError);
      await expect(ws.hasPermission(t.db, ctx, { userId: user.id, permission: payload })).rejects.toBeInstanceOf(ValidationError);
      await expect(ws.resolveSession(t.db, platformContext(), { token: payload.padEnd(20, "x") })).rejects.toMatchObject({ code: "not_found" });
      // Searches are full-text queries over the acting user's (or organisation's) rows only.
      expect(await ws.keywordSearchMemories(t.db, ctx, { query: payload })).toEqual([]);
      expect(await ws.searchMessages(t.db, ctx, { query: payload })).toEqual([]);
      expect(await ws.searchMail(t.db, ctx, { query: payload })).toEqual([]);
    }
    expect(await ws.keywordSearchMemories(t.db, ctx, { query: "' OR '1'='1" })).toEqual([]);
    expect((await ws.keywordSearchMemories(t.db, ctx, { query: "ordinary" })).length).toBe(1);
  });
});
