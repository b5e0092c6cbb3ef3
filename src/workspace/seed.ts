/**
 * `make explain` (src/tools/explain.ts): workspace volume — 20 organisations of n/100 users; per user 10
 * memories (no embeddings: the HNSW build is measured by make bench), tasks, mail and notifications; one busy
 * conversation per organisation — and representative values for the parameters of queries/workspace/*.sql.
 */
import type { ExplainSeed } from "../tools/explain";

export const explainSeed: ExplainSeed = {
  order: 30,
  async seed(db, n) {
    const users = Math.max(20, Math.round(n / 100));
    await db.query("INSERT INTO workspace.organizations (name, slug) SELECT 'Org ' || g, 'org-' || g FROM generate_series(1, 20) g");
    await db.query(
      `
    INSERT INTO workspace.users (organization_id, email)
      SELECT (SELECT id FROM workspace.organizations ORDER BY id OFFSET g % 20 LIMIT 1), 'user' || g || '@example.com'
        FROM generate_series(1, $1::int) g`,
      [users],
    );
    await db.query(`
    INSERT INTO workspace.memories (user_id, content, tags, metadata, memory_type, created_at)
      SELECT u.id, 'memory ' || g || ' about budget ' || (g % 97), ARRAY['tag' || (g % 50)], jsonb_build_object('n', g % 10),
             (ARRAY['note', 'fact', 'preference'])[1 + g % 3], now() - g * interval '1 minute'
        FROM workspace.users u, generate_series(1, 10) g`);
    await db.query(`
    INSERT INTO workspace.conversations (organization_id, type, name, created_by)
      SELECT o.id, 'group', 'General', (SELECT id FROM workspace.users WHERE organization_id = o.id LIMIT 1) FROM workspace.organizations o`);
    await db.query(`
    INSERT INTO workspace.conversation_participants (conversation_id, user_id)
      SELECT c.id, u.id FROM workspace.conversations c JOIN workspace.users u ON u.organization_id = c.organization_id`);
    await db.query(`
    INSERT INTO workspace.messages (conversation_id, sender_id, content, created_at)
      SELECT p.conversation_id, p.user_id, 'message ' || g || ' on the launch plan', now() - g * interval '1 second'
        FROM workspace.conversation_participants p, generate_series(1, 10) g`);
    await db.query(`
    INSERT INTO workspace.tasks (user_id, organization_id, title, due_date, status, completed_at)
      SELECT u.id, u.organization_id, 'task ' || g, current_date + (g % 30), CASE WHEN g % 3 = 0 THEN 'done' ELSE 'todo' END,
             CASE WHEN g % 3 = 0 THEN now() END
        FROM workspace.users u, generate_series(1, 10) g`);
    await db.query("INSERT INTO workspace.integrations (user_id, provider, status) SELECT id, 'google', 'active' FROM workspace.users");
    await db.query(`
    INSERT INTO workspace.gmail_messages (user_id, integration_id, gmail_id, subject, body_text, received_at)
      SELECT i.user_id, i.id, 'g' || g, 'Invoice ' || g, 'body of mail ' || g, now() - g * interval '1 hour'
        FROM workspace.integrations i, generate_series(1, 10) g`);
    await db.query(`
    INSERT INTO workspace.notifications (user_id, type, is_read, read_at)
      SELECT u.id, 'task.due', g % 2 = 0, CASE WHEN g % 2 = 0 THEN now() END FROM workspace.users u, generate_series(1, 10) g`);
    await db.query(`
    INSERT INTO workspace.audit_logs (organization_id, user_id, action, "timestamp")
      SELECT u.organization_id, u.id, 'memory.created', now() - (random() * interval '20 days') FROM workspace.users u, generate_series(1, 10) g`);
  },
  /** Own values, over the shared ones: the tenant is an organisation, `id` a memory, and so on. */
  async params(db, one) {
    const now = new Date();
    const user = (await db.query<{ id: string; organization_id: string }>("SELECT id, organization_id FROM workspace.users ORDER BY id LIMIT 1")).rows[0];
    const ws1 = async (sql: string) => (user ? one(sql, [user.id]) : null);
    const conversationId = await ws1("SELECT conversation_id FROM workspace.conversation_participants WHERE user_id = $1");
    const memoryId = await ws1("SELECT id FROM workspace.memories WHERE user_id = $1 LIMIT 1");
    const messageId = await ws1("SELECT id FROM workspace.messages WHERE sender_id = $1 LIMIT 1");
    const integrationId = await ws1("SELECT id FROM workspace.integrations WHERE user_id = $1");
    return {
      own: {
        tenantId: user?.organization_id,
        organizationId: user?.organization_id,
        userId: user?.id,
        id: memoryId,
        email: "user1@example.com",
        conversationId,
        messageId,
        memoryId,
        integrationId,
        entityId: memoryId,
        sourceEntityId: memoryId,
        targetEntityId: memoryId,
        roleId: memoryId,
        templateId: null,
        sessionId: null,
        tokenHash: "0".repeat(64),
        expiresAt: now,
        query: "budget plan",
        embedding: `[${Array.from({ length: 1536 }, (_, i) => (i % 5) / 5).join(",")}]`,
        k: 10,
        autoInclude: false,
        tags: null,
        ids: [memoryId],
        participants: [{ conversationId, userId: user?.id, role: "member" }],
        uses: [{ messageId, memoryId, relevanceScore: 0.5 }],
        rows: "[]",
        status: "todo",
        type: "direct",
        today: null,
        days: 7,
        permission: "tasks:read",
        documentType: null,
        provider: "google",
        platform: "ios",
        deviceToken: "t",
        contentType: "text",
        isAiResponse: false,
        content: "c",
        before: null,
        at: null,
        oldValue: null,
        newValue: null,
        metadata: null,
        errorMessage: null,
        permissions: ["tasks:read"],
        relationshipType: "knows",
        sourceType: "memory",
        sourceId: memoryId,
        accessTokenEncrypted: Buffer.alloc(40),
        timezone: null,
        syncCursor: null,
        setTitle: false,
        reembed: true,
        setDescription: false,
        setDue: false,
        assigneeId: user?.id,
        planType: "pro",
      },
    };
  },
};
