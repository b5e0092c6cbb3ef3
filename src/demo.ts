/**
 * `make demo`: walk each domain through the service layer against the configured database (the embedded
 * default in .data/ unless DATABASE_URL is set) and print what happened. Safe to run repeatedly: every
 * run uses fresh ids and clause codes.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { loadConfig } from "./config";
import { dbFor, openEngine } from "./db/connect";
import { AppError } from "./db/errors";
import { platformContext } from "./db/operation";
import { migrate } from "./tools/migrate";
import * as screening from "./screening";
import * as ws from "./workspace";
import {
  auditForSubject,
  clauseHistory,
  createClause,
  currentConsent,
  changeConsent,
  grantConsent,
  hasConsent,
  publishPolicyVersion,
  listCurrentClauses,
  publishRevision,
  willsContext,
} from "./wills";

const say = (s = "") => console.log(s);

const ROOT = path.resolve(import.meta.dirname, "..");

/**
 * The screening service encrypts PII, so it needs keys. A fresh checkout has none: write random
 * development keys to the gitignored .env once (never a built-in default key), and say so.
 */
function ensureDevKeys() {
  const envFile = path.join(ROOT, ".env");
  if (fs.existsSync(envFile)) process.loadEnvFile(envFile);
  if (process.env.ENCRYPTION_KEYS && process.env.BLIND_INDEX_KEY) return;
  const key = () => crypto.randomBytes(32).toString("base64");
  const lines = [
    "# Development keys written by `make demo`; never use them for real data.",
    `ENCRYPTION_KEYS=dev1:${key()}`,
    "ENCRYPTION_ACTIVE_KEY_ID=dev1",
    `BLIND_INDEX_KEY=${key()}`,
  ];
  fs.appendFileSync(envFile, `${lines.join("\n")}\n`);
  process.loadEnvFile(envFile);
  say("(no encryption keys configured: wrote random development keys to .env)");
}

async function main() {
  ensureDevKeys();
  const cfg = loadConfig();
  const engine = await openEngine(cfg);
  const applied = await migrate(engine.url, { direction: "up" });
  const db = dbFor(engine, cfg);
  try {
    say(`database: ${engine.kind}${applied.length ? ` (applied ${applied.length} pending migration(s))` : ""}`);

    await screeningWalkthrough(db);
    await workspaceWalkthrough(db);

    say("\n== wills: POPIA consent, bound to the privacy-policy version in force ==");
    const subject = crypto.randomUUID();
    const asSubject = willsContext({ actorId: subject, actorType: "data_subject", correlationId: crypto.randomUUID(), ipAddress: "196.25.1.7" });
    // Policy versions are platform-wide: each demo run publishes its own pair, so runs do not collide.
    const run = crypto.randomBytes(3).toString("hex");
    const [pv1, pv2] = [`demo-${run}.1`, `demo-${run}.2`];
    await publishPolicyVersion(db, platformContext(), { version: pv1, effectiveFrom: new Date(Date.now() - 1000), summary: "demo policy" });
    const check = async (category: string) => hasConsent(db, asSubject, { dataSubjectId: subject, category });
    const c1 = await grantConsent(db, asSubject, {
      dataSubjectId: subject,
      categories: { will_drafting: true, marketing: false },
      privacyPolicyVersion: pv1,
      consentTextVersion: "v3",
      channel: "web",
      ipAddress: "196.25.1.7",
    });
    say(`published policy ${pv1}; granted consent ${c1.id} under it: ${JSON.stringify(c1.consent_categories)}`);
    say(`hasConsent(will_drafting) = ${await check("will_drafting")}, hasConsent(marketing) = ${await check("marketing")}`);
    await grantConsent(db, asSubject, {
      dataSubjectId: subject,
      categories: { will_drafting: true },
      privacyPolicyVersion: pv1,
      consentTextVersion: "v3",
      channel: "web",
    }).catch((e: AppError) => say(`granting again under the same policy -> ${e.name}: ${e.message}`));
    await publishPolicyVersion(db, platformContext(), { version: pv2, effectiveFrom: new Date(Date.now() - 500) });
    say(`policy ${pv2} in force: the ${pv1} grant no longer counts; hasConsent(will_drafting) = ${await check("will_drafting")}`);
    await grantConsent(db, asSubject, {
      dataSubjectId: subject,
      categories: { marketing: true },
      privacyPolicyVersion: pv2,
      consentTextVersion: "v4",
      channel: "mobile",
    });
    say(
      `granted under ${pv2} (marketing only); current consent: ${JSON.stringify((await currentConsent(db, asSubject, { dataSubjectId: subject })).categories)}`,
    );
    await changeConsent(db, asSubject, { dataSubjectId: subject, changes: { marketing: false }, consentTextVersion: "v4", channel: "mobile" });
    say(`withdrew marketing in one step; current consent: ${JSON.stringify((await currentConsent(db, asSubject, { dataSubjectId: subject })).categories)}`);

    say("\n== wills: versioned clause library ==");
    const staff = willsContext({ actorId: crypto.randomUUID(), actorType: "staff", correlationId: crypto.randomUUID() });
    const code = `executor_appointment_${Date.now()}`;
    const v1 = await createClause(db, staff, {
      code,
      title: "Appointment of executor",
      body: "I appoint {{executor_name}} as executor of my estate.",
      variablesSchema: { type: "object", properties: { executor_name: { type: "string" } }, required: ["executor_name"] },
      category: "executor",
      willTypes: ["single", "mirror"],
    });
    say(`created ${code} v${v1.version}`);
    const v2 = await publishRevision(db, staff, { code, basedOnVersion: 1, body: "I nominate {{executor_name}} as executor and administrator of my estate." });
    say(`published v${v2.version} (previous_version_id = v1's id: ${v2.previous_version_id === v1.id})`);
    await publishRevision(db, staff, { code, basedOnVersion: 1, body: "a stale edit" }).catch((e: AppError) =>
      say(`a second editor still on v1 -> ${e.name}: ${e.message}`),
    );
    for (const h of await clauseHistory(db, staff, { code })) say(`  history: v${h.version}${h.is_current ? " (current)" : ""}: ${h.body}`);
    say(`current executor clauses for mirror wills: ${(await listCurrentClauses(db, staff, { category: "executor", willType: "mirror" })).length}`);

    say("\n== wills: audit trail (same transaction as each change; append-only) ==");
    const day = 86_400_000;
    for (const a of await auditForSubject(db, staff, { dataSubjectId: subject, from: new Date(Date.now() - day), to: new Date(Date.now() + day) })) {
      say(`  ${a.created_at.toISOString()}  ${a.action.padEnd(18)} ${a.resource_type} ${a.resource_id}`);
    }
    await db
      .transaction((c) => c.query("DELETE FROM wills.audit_logs WHERE data_subject_id = $1", [subject]))
      .catch((e: AppError) => say(`deleting audit rows, even as the owner -> ${e.name}: ${e.message}`));
  } finally {
    await db.close();
  }
}

async function screeningWalkthrough(db: ReturnType<typeof dbFor>) {
  say("\n== screening: tenants and entities ==");
  const run = Date.now().toString(36);
  const platform = platformContext();
  const acme = await screening.createTenant(db, platform, { slug: `acme-${run}`, name: "Acme Screening" });
  const globex = await screening.createTenant(db, platform, { slug: `globex-${run}`, name: "Globex HR" });
  const ctx = screening.requestContext({ tenantId: acme.tenant_id, actorId: crypto.randomUUID(), correlationId: crypto.randomUUID() });
  const ctxB = screening.requestContext({ tenantId: globex.tenant_id, actorId: crypto.randomUUID(), correlationId: crypto.randomUUID() });
  say(`tenants: ${acme.slug}, ${globex.slug}`);
  const ssn = String(100_000_000 + crypto.randomInt(899_999_999));
  const person = await screening.createEntity(db, ctx, { entityType: "individual", identifiers: { ssn } });
  say(`entity ${person.entity_id} created with an SSN (stored AES-256-GCM encrypted, indexed by HMAC blind index)`);
  const found = await screening.findEntityByIdentifier(db, ctx, { kind: "ssn", value: `${ssn.slice(0, 3)}-${ssn.slice(3, 5)}-${ssn.slice(5)}` });
  say(`found again by the dashed SSN: ${found?.entity_id === person.entity_id}`);
  await screening
    .createEntity(db, ctx, { entityType: "individual", identifiers: { ssn } })
    .catch((e: AppError) => say(`creating a second entity with that SSN -> ${e.name}: ${e.message}`));

  say("\n== screening: versioned profiles ==");
  const employer = await screening.createEntity(db, ctx, {
    entityType: "organization",
    identifiers: { ein: String(100_000_000 + crypto.randomInt(899_999_999)) },
  });
  await screening.createProfileVersion(db, ctx, {
    entityId: person.entity_id,
    triggerType: "screening",
    findings: [{ id: "addr-1", kind: "address_history" }],
    riskScore: { score: 20, band: "low" },
  });
  const v2 = await screening.createProfileVersion(db, ctx, {
    entityId: person.entity_id,
    triggerType: "monitoring",
    findings: [{ id: "court-7", kind: "civil_judgment" }],
    riskScore: { score: 55, band: "medium" },
    connections: [{ entity_id: employer.entity_id, relation_type: "employer" }],
  });
  say(`profile v${v2.version} delta: ${JSON.stringify(v2.delta)}`);

  say("\n== screening: provider cache across tenants ==");
  const window = { acquiredAt: new Date(), freshUntil: new Date(Date.now() + 7 * 86_400_000), staleUntil: new Date(Date.now() + 30 * 86_400_000) };
  await screening.storeProviderResponse(db, ctx, {
    entityId: person.entity_id,
    providerId: "bureau-one",
    checkType: "criminal_record",
    dataOrigin: "paid_external",
    ...window,
    rawResponse: '{"records":[]}',
    normalizedData: { records: 0 },
    cost: 12.5,
    currency: "USD",
  });
  await screening.storeProviderResponse(db, ctx, {
    entityId: person.entity_id,
    providerId: "acme-hr",
    checkType: "criminal_record",
    dataOrigin: "customer_provided",
    ...window,
    rawResponse: "acme's own background file",
    normalizedData: {},
    cost: 0,
    currency: "USD",
  });
  const seen = async (name: string, c: screening.RequestContext) => {
    const rows = await screening.lookupCache(db, c, { entityId: person.entity_id, checkType: "criminal_record" });
    say(`${name} sees: ${rows.map((r) => `${r.provider_id} (${r.data_origin}, ${r.freshness})`).join(", ")}`);
  };
  await seen(acme.slug, ctx);
  await screening
    .getEntity(db, ctxB, { entityId: person.entity_id })
    .catch((e: AppError) => say(`${globex.slug} asking for ${acme.slug}'s entity by id -> ${e.name}: ${e.message}`));
  const resolved = await screening.findEntityByIdentifier(db, ctxB, { kind: "ssn", value: ssn });
  say(`${globex.slug} resolves the same SSN it holds -> the shared entity: ${resolved?.entity_id === person.entity_id}`);
  await seen(globex.slug, ctxB);
  say(`${globex.slug} sees ${(await screening.profileHistory(db, ctxB, { entityId: person.entity_id })).length} profile versions (${acme.slug}'s are its own)`);

  say("\n== screening: audit events for this request ==");
  const day = 86_400_000;
  for (const ev of await screening.listAuditEvents(db, ctx, { from: new Date(Date.now() - day), to: new Date(Date.now() + day) })) {
    if (ev.correlation_id === ctx.correlationId) say(`  ${ev.event_type.padEnd(16)} entity=${ev.entity_id ?? "-"} ${JSON.stringify(ev.details)}`);
  }
}

async function workspaceWalkthrough(db: ReturnType<typeof dbFor>) {
  say("\n== workspace: organisations and users ==");
  const tag = crypto.randomBytes(3).toString("hex");
  // Ann creates the organisation and becomes its owner; she adds Bob (users:create, which owners hold).
  const org = await ws.createOrganization(db, platformContext(), {
    name: `Demo Co ${tag}`,
    slug: `demo-${tag}`,
    owner: { email: `Ann.${tag}@Example.com`, displayName: "Ann" },
  });
  const ann = org.owner;
  const asAnn = ws.workspaceContext({ organizationId: org.id, userId: ann.id });
  const admin = asAnn;
  const bob = await ws.createUser(db, asAnn, { email: `bob.${tag}@example.com`, displayName: "Bob" });
  const asBob = ws.workspaceContext({ organizationId: org.id, userId: bob.id });
  say(`organisation ${org.slug} with ${ann.email} and ${bob.email}`);
  say(`found by email in lower case: ${(await ws.findUserByEmail(db, admin, { email: ann.email.toLowerCase() }))?.id === ann.id}`);
  const session = await ws.createSession(db, asAnn, { ttlSeconds: 3600 });
  say(
    `session for Ann (only its SHA-256 hash is stored) resolves to Ann: ${(await ws.resolveSession(db, platformContext(), { token: session.token })).user_id === ann.id}`,
  );

  say("\n== workspace: memories and semantic search (pgvector HNSW, cosine) ==");
  // Toy embeddings: three topics as directions in 1536 dimensions (a real system calls an embedding model).
  const topic = (k: number, jitter: number) => Array.from({ length: ws.EMBEDDING_DIMENSIONS }, (_, i) => (i % 3 === k ? 1 : 0) + jitter * Math.sin(i + k));
  const notes = [
    ["Budget review moved to Friday", 0, ["finance"]],
    ["Q3 revenue beat the forecast", 0, ["finance"]],
    ["Flight to Lisbon on the 14th", 1, ["travel"]],
    ["Hotel near the conference centre", 1, ["travel"]],
    ["Ada prefers morning meetings", 2, ["people"]],
  ] as const;
  for (const [content, k, tags] of notes) {
    const m = await ws.createMemory(db, asAnn, { content, tags: [...tags] });
    await ws.setEmbedding(db, asAnn, { id: m.id, status: "completed", embedding: topic(k, 0.05 * content.length), model: "demo" });
  }
  const hits = await ws.semanticSearchMemories(db, asAnn, { embedding: topic(0, 0.3), k: 3 });
  for (const h of hits) say(`  ${h.distance.toFixed(3)}  ${h.content}`);
  say(
    `Bob searching the same space sees ${(await ws.semanticSearchMemories(db, asBob, { embedding: topic(0, 0.3), k: 3 })).length} of Ann's memories (RLS: private to Ann)`,
  );
  say(`keyword search "forecast": ${(await ws.keywordSearchMemories(db, asAnn, { query: "forecast" })).map((h) => h.content).join("; ")}`);

  say("\n== workspace: conversations ==");
  const conv = await ws.createConversation(db, asAnn, { type: "direct", participantIds: [bob.id] });
  await ws.sendMessage(db, asAnn, { conversationId: conv.id, content: "Can you check the budget numbers?" });
  await ws.sendMessage(db, asAnn, { conversationId: conv.id, content: "And book the Lisbon hotel." });
  say(`Bob's unread messages in the direct conversation: ${(await ws.unreadCounts(db, asBob)).get(conv.id)}`);
  await ws.markConversationRead(db, asBob, { conversationId: conv.id });
  say(`after reading: ${(await ws.unreadCounts(db, asBob)).get(conv.id)}`);
  await ws.createMemory(db, asAnn, { content: "x".repeat(50_001) }).catch((e: AppError) => say(`a memory of 50,001 characters -> ${e.name}: ${e.message}`));

  say("\n== workspace: tasks, integrations, RBAC ==");
  const task = await ws.createTask(db, asBob, { title: "Check budget numbers", priority: "high", dueDate: new Date().toISOString().slice(0, 10) });
  const done = await ws.changeTaskStatus(db, asBob, { id: task.id, status: "done" });
  say(`task done at ${done.completed_at?.toISOString()}`);
  await ws.changeTaskStatus(db, asBob, { id: task.id, status: "cancelled" }).catch((e: AppError) => say(`done -> cancelled -> ${e.name}: ${e.message}`));
  const google = await ws.connectIntegration(db, asAnn, { provider: "google", accessToken: "ya29.demo-token", scopes: ["gmail.readonly"] });
  const mails = [
    { gmail_id: "g1", subject: "Invoice March" },
    { gmail_id: "g2", subject: "Team offsite" },
  ];
  const first = await ws.syncGmailMessages(db, asAnn, { integrationId: google.id, rows: mails });
  const again = await ws.syncGmailMessages(db, asAnn, { integrationId: google.id, rows: mails });
  say(`gmail sync: ${JSON.stringify(first)}, re-sync: ${JSON.stringify(again)} (token stored encrypted: ${google.has_access_token})`);
  const editor = await ws.createRole(db, admin, { name: "editor", permissions: ["memories:read", "tasks:*"] });
  await ws.grantRole(db, admin, { userId: bob.id, roleId: editor.id, expiresAt: new Date(Date.now() + 3_600_000) });
  say(
    `Bob may tasks:delete: ${await ws.hasPermission(db, admin, { userId: bob.id, permission: "tasks:delete" })}, users:invite: ${await ws.hasPermission(db, admin, { userId: bob.id, permission: "users:invite" })}`,
  );

  say("\n== workspace: audit trail of the organisation ==");
  const rows = await ws.auditLog(db, admin, { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000) });
  for (const r of rows.reverse()) say(`  ${r.timestamp.toISOString()}  ${r.status.padEnd(7)} ${r.action}`);
}

main().catch((e) => {
  console.error(e instanceof AppError ? `error (${e.code}): ${e.message}` : e);
  process.exit(1);
});
