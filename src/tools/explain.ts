/**
 * Plan checks for every named query (the seeds' "indexes verified with EXPLAIN ANALYZE", made permanent).
 *
 * `seedVolume` fills a migrated database with realistic volume; `explainAll` runs every query of every
 * generated module with representative parameters — SELECTs with EXPLAIN ANALYZE, writes with plain
 * EXPLAIN (never executed) — as the application role with a tenant set, where it has the privileges, else
 * as the connecting owner. A query whose plan sequentially scans a table above the size threshold is a
 * violation unless its SQL carries the annotation `-- explain: seq-scan-ok <why>`.
 */
import crypto from "node:crypto";
import type pg from "pg";
import { generatedModules } from "./generated";
import { APP_ROLE } from "../db/tx";

export const SEQ_SCAN_ANNOTATION = /--\s*explain:\s*seq-scan-ok\b/;

/** Fill the domain tables: `scale` 1 gives 20,000 entities and about 300,000 rows in all. */
export async function seedVolume(db: pg.Pool, scale = 1): Promise<void> {
  const n = Math.max(100, Math.round(20_000 * scale));
  await db.query(`
    INSERT INTO screening.tenants (slug, name) SELECT 'tenant-' || g, 'Tenant ' || g FROM generate_series(1, 50) g;
    INSERT INTO screening.entities (entity_type, canonical_identifiers)
      SELECT (ARRAY['individual', 'organization', 'address']::screening.entity_type[])[1 + g % 3],
             '\\x01026b31'::bytea || gen_random_bytes(60) FROM generate_series(1, ${n}) g;
    INSERT INTO screening.entity_identifiers (identifier_kind, blind_index, entity_id)
      SELECT 'ssn', sha256(entity_id::text::bytea), entity_id FROM screening.entities;
    INSERT INTO screening.entity_profiles (entity_id, version, previous_version, trigger_type, findings, risk_score, connections, data_sources_used)
      SELECT entity_id, v, nullif(v - 1, 0), 'screening', '[]', '{"score": 10}', '[]', '[]'
        FROM screening.entities, generate_series(1, 2) v;
    INSERT INTO screening.entity_relations (from_entity_id, to_entity_id, relation_type, confidence_score)
      SELECT a.entity_id, b.entity_id, 'employer', 0.5
        FROM (SELECT entity_id, row_number() OVER (ORDER BY entity_id) r FROM screening.entities) a
        JOIN (SELECT entity_id, row_number() OVER (ORDER BY entity_id) r FROM screening.entities) b ON b.r = a.r % ${n} + 1;
    INSERT INTO screening.cached_data_sources (entity_id, provider_id, check_type, data_origin, customer_id, acquired_at, fresh_until, stale_until,
                                               raw_response, normalized_data, cost_incurred)
      SELECT e.entity_id, 'bureau', (ARRAY['criminal_record', 'credit', 'sanctions'])[1 + r % 3],
             CASE WHEN r % 4 = 0 THEN 'customer_provided' ELSE 'paid_external' END,
             CASE WHEN r % 4 = 0 THEN (SELECT tenant_id FROM screening.tenants ORDER BY tenant_id LIMIT 1) END,
             now() - interval '1 day', now() + interval '6 days', now() + interval '30 days',
             '\\x01026b31'::bytea || gen_random_bytes(60), '{}', 1.5
        FROM (SELECT entity_id, row_number() OVER () r FROM screening.entities) e;
    INSERT INTO screening.audit_events (tenant_id, event_type, correlation_id, entity_id, created_at)
      SELECT t.tenant_id, 'data_accessed', gen_random_uuid(), e.entity_id, now() - (random() * interval '20 days')
        FROM (SELECT entity_id, row_number() OVER () r FROM screening.entities) e
        JOIN (SELECT tenant_id, row_number() OVER () - 1 r FROM screening.tenants) t ON t.r = e.r % 50,
             generate_series(1, 2);
    INSERT INTO wills.consent_records (data_subject_id, consent_categories, privacy_policy_version, consent_text_version, channel)
      SELECT gen_random_uuid(), '{"will_drafting": true}', '2026.1', 'v1', 'web' FROM generate_series(1, ${n});
    INSERT INTO wills.clauses (code, version, title, body, category, will_types)
      SELECT 'clause_' || g, 1, 'Clause ' || g, 'Body {{x}}',
             (enum_range(NULL::wills.clause_category))[1 + g % 10], '["single", "joint"]'
        FROM generate_series(1, ${Math.max(50, Math.round(n / 10))}) g;
    INSERT INTO wills.audit_logs (action, actor_type, data_subject_id, resource_type, resource_id, created_at)
      SELECT 'consent.granted', 'data_subject', data_subject_id, 'consent_record', id, now() - (random() * interval '20 days')
        FROM wills.consent_records, generate_series(1, 2);
  `);
  await seedWorkspace(db, n);
  await db.query("ANALYZE");
}

/**
 * Workspace volume: 20 organisations of n/100 users; per user 10 memories (no embeddings: the HNSW
 * build is measured by make bench), tasks, mail and notifications; one busy conversation per organisation.
 */
async function seedWorkspace(db: pg.Pool, n: number): Promise<void> {
  const users = Math.max(20, Math.round(n / 100));
  await db.query(`
    INSERT INTO workspace.organizations (name, slug) SELECT 'Org ' || g, 'org-' || g FROM generate_series(1, 20) g;
    INSERT INTO workspace.users (organization_id, email)
      SELECT (SELECT id FROM workspace.organizations ORDER BY id OFFSET g % 20 LIMIT 1), 'user' || g || '@example.com'
        FROM generate_series(1, ${users}) g;
    INSERT INTO workspace.memories (user_id, content, tags, metadata, memory_type, created_at)
      SELECT u.id, 'memory ' || g || ' about budget ' || (g % 97), ARRAY['tag' || (g % 50)], jsonb_build_object('n', g % 10),
             (ARRAY['note', 'fact', 'preference'])[1 + g % 3], now() - g * interval '1 minute'
        FROM workspace.users u, generate_series(1, 10) g;
    INSERT INTO workspace.conversations (organization_id, type, name, created_by)
      SELECT o.id, 'group', 'General', (SELECT id FROM workspace.users WHERE organization_id = o.id LIMIT 1) FROM workspace.organizations o;
    INSERT INTO workspace.conversation_participants (conversation_id, user_id)
      SELECT c.id, u.id FROM workspace.conversations c JOIN workspace.users u ON u.organization_id = c.organization_id;
    INSERT INTO workspace.messages (conversation_id, sender_id, content, created_at)
      SELECT p.conversation_id, p.user_id, 'message ' || g || ' on the launch plan', now() - g * interval '1 second'
        FROM workspace.conversation_participants p, generate_series(1, 10) g;
    INSERT INTO workspace.tasks (user_id, organization_id, title, due_date, status, completed_at)
      SELECT u.id, u.organization_id, 'task ' || g, current_date + (g % 30), CASE WHEN g % 3 = 0 THEN 'done' ELSE 'todo' END,
             CASE WHEN g % 3 = 0 THEN now() END
        FROM workspace.users u, generate_series(1, 10) g;
    INSERT INTO workspace.integrations (user_id, provider, status) SELECT id, 'google', 'active' FROM workspace.users;
    INSERT INTO workspace.gmail_messages (user_id, integration_id, gmail_id, subject, body_text, received_at)
      SELECT i.user_id, i.id, 'g' || g, 'Invoice ' || g, 'body of mail ' || g, now() - g * interval '1 hour'
        FROM workspace.integrations i, generate_series(1, 10) g;
    INSERT INTO workspace.notifications (user_id, type, is_read, read_at)
      SELECT u.id, 'task.due', g % 2 = 0, CASE WHEN g % 2 = 0 THEN now() END FROM workspace.users u, generate_series(1, 10) g;
    INSERT INTO workspace.audit_logs (organization_id, user_id, action, "timestamp")
      SELECT u.organization_id, u.id, 'memory.created', now() - (random() * interval '20 days') FROM workspace.users u, generate_series(1, 10) g;
  `);
}

export interface PlanLine {
  query: string;
  file: string;
  mode: "analyze" | "estimate";
  scans: string[];
  indexes: string[];
  estimatedCost: number;
  actualMs: number | null;
  /** Sequential scans on tables above the threshold, without the annotation. */
  violations: string[];
  error?: string;
}

type Params = Record<string, unknown>;

/** Representative values for parameters, by name (and by file where one name means two things). */
async function representativeParams(db: pg.Pool): Promise<(file: string) => Params> {
  const one = async (sql: string, params: unknown[] = []) => Object.values((await db.query(sql, params)).rows[0] ?? {})[0];
  const entityId = await one("SELECT entity_id FROM screening.entities ORDER BY entity_id OFFSET 7 LIMIT 1");
  const tenantId = await one("SELECT tenant_id FROM screening.tenants ORDER BY tenant_id LIMIT 1");
  const subject = await one("SELECT data_subject_id FROM wills.consent_records LIMIT 1");
  const consentId = await one("SELECT id FROM wills.consent_records LIMIT 1");
  const code = await one("SELECT code FROM wills.clauses LIMIT 1");
  const profileId = await one("SELECT profile_id FROM screening.entity_profiles LIMIT 1");
  const cacheId = await one("SELECT cache_id FROM screening.cached_data_sources LIMIT 1");
  const now = new Date();
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  const base: Params = {
    tenantId, entityId, fromEntityId: entityId, toEntityId: entityId, customerId: tenantId, id: consentId, cacheId,
    dataSubjectId: subject, code, resourceId: consentId, discoveredInScreening: profileId, triggerId: null, actorId: null,
    correlationId: crypto.randomUUID(), from, to, limit: 100, monthsAhead: 3, parent: "wills.audit_logs", maxDepth: 2,
    version: 1, basedOnVersion: 1, previousVersion: null, includeDeleted: false, slug: "tenant-1", name: "x", kind: "ssn",
    blindIndex: Buffer.alloc(32), activeKeyId: "k1", ciphertext: Buffer.alloc(40), canonicalIdentifiers: Buffer.alloc(40),
    rawResponse: Buffer.alloc(40), sensitiveDetails: null, entityType: "individual", relationType: "employer",
    confidenceScore: 0.5, triggerType: "screening", findings: "[]", riskScore: "{}", connections: "[]", connectionCount: 0,
    dataSourcesUsed: "[]", staleDataUsed: "[]", delta: null, evolutionSignals: "{}", providerId: "bureau",
    checkType: "credit", dataOrigin: "paid_external", acquiredAt: now, freshUntil: now, staleUntil: now,
    normalizedData: "{}", costIncurred: "1.00", costCurrency: "USD", eventType: "data_accessed", details: "{}",
    consentCategories: '{"will_drafting": true}', privacyPolicyVersion: "2026.1", consentTextVersion: "v1", channel: "web",
    ipAddress: null, userAgent: null, category: "will_drafting", title: "t", body: "b", variablesSchema: "{}",
    willTypes: '["single"]', willType: "single", action: "consent.granted", actorType: "system", resourceType: "consent_record",
    rows: [{ identifierKind: "ssn", blindIndex: Buffer.alloc(32), entityId, entityType: "individual", canonicalIdentifiers: Buffer.alloc(40) }],
    count: 10, entityIds: [entityId], entityTypes: ["individual"], identifierKinds: ["ssn"],
    blindIndexes: [Buffer.alloc(32)],
  };
  const user = (await db.query<{ id: string; organization_id: string }>("SELECT id, organization_id FROM workspace.users ORDER BY id LIMIT 1")).rows[0];
  const ws1 = async (sql: string) => (user ? one(sql, [user.id]) : null);
  const conversationId = await ws1("SELECT conversation_id FROM workspace.conversation_participants WHERE user_id = $1");
  const memoryId = await ws1("SELECT id FROM workspace.memories WHERE user_id = $1 LIMIT 1");
  const messageId = await ws1("SELECT id FROM workspace.messages WHERE sender_id = $1 LIMIT 1");
  const integrationId = await ws1("SELECT id FROM workspace.integrations WHERE user_id = $1");
  const workspace: Params = {
    ...base,
    tenantId: user?.organization_id, organizationId: user?.organization_id, userId: user?.id, id: memoryId, email: "user1@example.com",
    conversationId, messageId, memoryId, integrationId, entityId: memoryId, sourceEntityId: memoryId, targetEntityId: memoryId,
    roleId: memoryId, templateId: null, sessionId: null, tokenHash: "0".repeat(64), expiresAt: now, query: "budget plan",
    embedding: `[${Array.from({ length: 1536 }, (_, i) => (i % 5) / 5).join(",")}]`, k: 10, tags: null, ids: [memoryId],
    participants: [{ conversationId, userId: user?.id, role: "member" }], uses: [{ messageId, memoryId, relevanceScore: 0.5 }],
    rows: "[]", status: "todo", type: "direct", today: null, days: 7, permission: "tasks:read", documentType: null,
    provider: "google", platform: "ios", deviceToken: "t", contentType: "text", isAiResponse: false, content: "c", before: null, at: null,
    oldValue: null, newValue: null, metadata: null, errorMessage: null, permissions: ["tasks:read"], relationshipType: "knows", sourceType: "memory",
    sourceId: memoryId, accessTokenEncrypted: Buffer.alloc(40), timezone: null, syncCursor: null,
  };
  return (file) =>
    file.includes("workspace/")
      ? workspace
      : file.endsWith("wills/clauses.sql")
        ? { ...base, category: "executor" }
        : file.endsWith("screening/bulk.sql")
          ? { ...base, details: ["{}"], canonicalIdentifiers: [Buffer.alloc(40)] }
          : base;
}

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  Schema?: string;
  "Index Name"?: string;
  "Total Cost"?: number;
  "Actual Total Time"?: number;
  Plans?: PlanNode[];
}

function walk(node: PlanNode, visit: (n: PlanNode) => void) {
  visit(node);
  for (const child of node.Plans ?? []) walk(child, visit);
}

/** EXPLAIN every named query of every generated module. */
export async function explainAll(db: pg.Pool, opts: { threshold?: number } = {}): Promise<PlanLine[]> {
  const threshold = opts.threshold ?? 5_000;
  const params = await representativeParams(db);
  const sizes = new Map(
    (await db.query<{ t: string; n: number }>(
      "SELECT c.relname AS t, c.reltuples::bigint::int AS n FROM pg_class c WHERE c.relkind IN ('r', 'p')",
    )).rows.map((r) => [r.t, r.n]),
  );
  const out: PlanLine[] = [];
  for (const file of generatedModules()) {
    const mod = (await import(file.module)) as Record<string, unknown>;
    for (const [name, q] of Object.entries(mod)) {
      if (!q || typeof q !== "object" || !("run" in q)) continue;
      let captured: { text: string; values: unknown[] } | undefined;
      await (q as { run: (p: Params, c: unknown) => Promise<unknown> }).run(params(file.sql), {
        query: async (text: string, values: unknown[]) => {
          captured = { text, values };
          return { rows: [] };
        },
      });
      if (!captured) continue;
      const isRead = /^\s*(--[^\n]*\n\s*)*(SELECT|WITH RECURSIVE|WITH\s+\w+\s+AS\s*(NOT\s+)?(MATERIALIZED\s*)?\(\s*SELECT)/i.test(captured.text) && !/\b(INSERT|UPDATE|DELETE)\b/i.test(captured.text);
      const line: PlanLine = { query: name, file: file.sql, mode: isRead ? "analyze" : "estimate", scans: [], indexes: [], estimatedCost: 0, actualMs: null, violations: [] };
      const explain = `EXPLAIN (${isRead ? "ANALYZE, " : ""}FORMAT JSON) ${captured.text}`;
      const run = async (asApp: boolean) => {
        const c = await db.connect();
        try {
          await c.query("BEGIN");
          const p = params(file.sql);
          await c.query("SELECT set_config('app.tenant_id', $1, true), set_config('app.user_id', $2, true)", [String(p.tenantId), String(p.userId ?? "")]);
          if (asApp) await c.query("SELECT set_config('role', $1, true)", [APP_ROLE]);
          return (await c.query(explain, captured?.values)).rows[0]["QUERY PLAN"][0] as { Plan: PlanNode; "Execution Time"?: number };
        } finally {
          await c.query("ROLLBACK").catch(() => {});
          c.release();
        }
      };
      try {
        const plan = await run(true).catch((e) => ((e as { code?: string }).code === "42501" ? run(false) : Promise.reject(e)));
        line.estimatedCost = plan.Plan["Total Cost"] ?? 0;
        line.actualMs = plan["Execution Time"] ?? null;
        walk(plan.Plan, (n) => {
          if (/Scan/.test(n["Node Type"]) && n["Relation Name"]) line.scans.push(`${n["Node Type"]} ${n["Relation Name"]}`);
          if (n["Index Name"]) line.indexes.push(n["Index Name"]);
          if (n["Node Type"] === "Seq Scan" && n["Relation Name"] && (sizes.get(n["Relation Name"]) ?? 0) > threshold && !SEQ_SCAN_ANNOTATION.test(captured?.text ?? "")) {
            line.violations.push(`Seq Scan on ${n["Relation Name"]} (${sizes.get(n["Relation Name"])} rows)`);
          }
        });
      } catch (e) {
        line.error = (e as Error).message;
      }
      out.push(line);
    }
  }
  return out;
}

export function formatPlanLine(l: PlanLine): string {
  const where = `${l.file.replace(/^queries\//, "")} ${l.query}`.padEnd(52);
  if (l.error) return `${where} ERROR ${l.error}`;
  const scans = [...new Set(l.scans)].join(", ") || "(no table scan)";
  const time = l.actualMs === null ? "not run (write)" : `${l.actualMs.toFixed(2)} ms`;
  return `${where} ${scans} | cost ${l.estimatedCost.toFixed(1)} | ${time}${l.violations.length ? `  <-- ${l.violations.join("; ")}` : ""}`;
}
