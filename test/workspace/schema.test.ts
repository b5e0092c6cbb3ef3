/**
 * The workspace schema itself, in SQL as the owner (as a DBA or a psql session would use it): CRUD on all
 * 24 tables, every cascade the seed declares, and every CHECK constraint rejecting a bad row with a
 * ValidationError that names it.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { AppendOnlyError, ValidationError } from "../../src/db/errors";
import { useTestDb } from "../support/db";
import { seedWorld, TABLES, type World } from "./fixtures";

const t = useTestDb();
const q = async <T = Record<string, unknown>>(sql: string, params: unknown[] = []) => (await t.db.pool.query(sql, params)).rows as T[];
const one = async <T = Record<string, unknown>>(sql: string, params: unknown[] = []) => (await q<T>(sql, params))[0] as T;

const countAll = async () => {
  const out: Record<string, number> = {};
  for (const table of TABLES) out[table] = Number((await one<{ n: string }>(`SELECT count(*) AS n FROM workspace.${table}`)).n);
  return out;
};

describe("workspace schema (SQL, owner)", () => {
  let w: World;
  beforeAll(async () => {
    w = await seedWorld(q);
  });

  it("has exactly the seed's 24 tables, each with a row after the fixture, readable and updatable (audit_logs: append-only)", async () => {
    const tables = await q<{ t: string }>(
      "SELECT c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'workspace' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1",
    );
    expect(tables.map((r) => r.t)).toEqual([...TABLES].sort());
    const counts = await countAll();
    for (const table of TABLES) expect(counts[table], table).toBeGreaterThan(0);

    // U of CRUD on a representative column per table (C and R above, D in the cascade tests).
    const updates: [string, string][] = [
      ["organizations", "plan_type = 'pro'"],
      ["users", "display_name = 'A'"],
      ["user_preferences", "theme = 'dark'"],
      ["sessions", "user_agent = 'ua'"],
      ["memories", "title = 'T'"],
      ["conversations", "name = 'N'"],
      ["conversation_participants", "is_muted = true"],
      ["messages", "status = 'read'"],
      ["message_memory_usage", "relevance_score = 0.9"],
      ["tasks", "priority = 'urgent'"],
      ["integrations", "status = 'error'"],
      ["gmail_messages", "is_read = true"],
      ["calendar_events", "title = 'Standup'"],
      ["drive_files", "mime_type = 'text/plain'"],
      ["entities", "mention_count = 3"],
      ["entity_relationships", "strength = 0.9"],
      ["entity_mentions", "position = 3"],
      ["roles", "description = 'd'"],
      // (not the owner's grant: an organisation keeps a permanent owner, see the permissions tests)
      ["user_roles", "expires_at = now() + interval '1 day' WHERE role_id <> workspace.owner_role_id()"],
      ["documents", "status = 'ready'"],
      ["document_templates", "instructions = 'i'"],
      ["devices", "is_active = false"],
      ["notifications", "is_read = true, read_at = now()"],
    ];
    expect(updates.map(([x]) => x).sort()).toEqual(TABLES.filter((x) => x !== "audit_logs").sort());
    for (const [table, set] of updates) {
      const r = await t.db.pool.query(`UPDATE workspace.${table} SET ${set}`);
      expect(r.rowCount, table).toBeGreaterThan(0);
    }
    const touched = await one<{ a: Date; b: Date }>("SELECT created_at AS a, updated_at AS b FROM workspace.organizations WHERE id = $1", [w.org]);
    expect(touched.b.getTime()).toBeGreaterThanOrEqual(touched.a.getTime());
    const err = await t.db.transaction((c) => c.query("UPDATE workspace.audit_logs SET action = 'user.forged'")).catch((e) => e);
    expect(err).toBeInstanceOf(AppendOnlyError);
  });

  it("deleting a user cascades to everything private to them; their messages stay with sender NULL", async () => {
    // w.user owns the organisation; a second owner lets them go (the last owner cannot).
    await q("INSERT INTO workspace.user_roles (user_id, role_id, organization_id) VALUES ($1, workspace.owner_role_id(), $2)", [w.other, w.org]);
    const before = await countAll();
    await q("DELETE FROM workspace.users WHERE id = $1", [w.user]);
    const after = await countAll();
    const gone = Object.fromEntries(TABLES.map((x) => [x, (before[x] as number) - (after[x] as number)]));
    expect(gone).toEqual({
      organizations: 0,
      users: 1,
      user_preferences: 1,
      sessions: 1,
      memories: 1,
      conversations: 0,
      conversation_participants: 1,
      messages: 0,
      message_memory_usage: 1,
      tasks: 1,
      integrations: 1,
      gmail_messages: 1,
      calendar_events: 1,
      drive_files: 1,
      entities: 2,
      entity_relationships: 1,
      entity_mentions: 1,
      roles: 0,
      user_roles: 1,
      audit_logs: 0,
      documents: 1,
      document_templates: 0,
      devices: 1,
      notifications: 1,
    });
    expect(await q("SELECT sender_id, content FROM workspace.messages WHERE id = $1", [w.message])).toEqual([{ sender_id: null, content: "hello" }]);
    expect(await one("SELECT created_by FROM workspace.conversations WHERE id = $1", [w.conversation])).toEqual({ created_by: null });
    expect(await q("SELECT granted_by FROM workspace.user_roles WHERE user_id = $1", [w.other])).toEqual([{ granted_by: null }, { granted_by: null }]);
    // The audit row naming the deleted user is untouched (no FK, append-only).
    expect(await one("SELECT count(*)::int AS n FROM workspace.audit_logs WHERE user_id = $1", [w.user])).toEqual({ n: 1 });
  });

  it("deleting a conversation or template sets the referencing memory/document column NULL; deleting an organisation cascades to its rows", async () => {
    const { id: m } = await one<{ id: string }>("INSERT INTO workspace.memories (user_id, content, conversation_id) VALUES ($1, 'x', $2) RETURNING id", [
      w.other,
      w.conversation,
    ]);
    const { id: tpl } = await one<{ id: string }>(
      "INSERT INTO workspace.document_templates (organization_id, name, document_type) VALUES ($1, 'T2', 'memo') RETURNING id",
      [w.org],
    );
    const { id: d } = await one<{ id: string }>(
      "INSERT INTO workspace.documents (user_id, document_type, title, template_id) VALUES ($1, 'memo', 'D', $2) RETURNING id",
      [w.other, tpl],
    );
    await q("DELETE FROM workspace.conversations WHERE id = $1", [w.conversation]);
    await q("DELETE FROM workspace.document_templates WHERE id = $1", [tpl]);
    expect(await one("SELECT conversation_id FROM workspace.memories WHERE id = $1", [m])).toEqual({ conversation_id: null });
    expect(await one("SELECT template_id FROM workspace.documents WHERE id = $1", [d])).toEqual({ template_id: null });
    expect(await one("SELECT count(*)::int AS n FROM workspace.messages")).toEqual({ n: 0 });

    await q("DELETE FROM workspace.organizations WHERE id = $1", [w.org]);
    const left = await one<Record<string, number>>(
      `SELECT (SELECT count(*) FROM workspace.tasks)::int AS tasks, (SELECT count(*) FROM workspace.roles WHERE NOT is_system)::int AS roles,
              (SELECT count(*) FROM workspace.user_roles)::int AS grants, (SELECT count(*) FROM workspace.document_templates)::int AS templates,
              (SELECT count(*) FROM workspace.users WHERE organization_id IS NULL)::int AS orphans`,
    );
    expect(left).toEqual({ tasks: 0, roles: 0, grants: 0, templates: 0, orphans: 1 });
  });
});

describe("CHECK constraints", () => {
  let w: World;
  beforeAll(async () => {
    w = await seedWorld(q);
  });

  // [constraint, table, violating SET clause]; audit_logs is append-only, so its cases are INSERTs.
  const cases: [string, string, string][] = [
    ["organizations_name_length", "organizations", "name = ''"],
    ["organizations_slug_format", "organizations", "slug = 'Not A Slug'"],
    ["organizations_plan_type_format", "organizations", "plan_type = 'Gold Plan'"],
    ["organizations_settings_object", "organizations", "settings = '[]'"],
    ["users_email_format", "users", "email = 'no-at-sign'"],
    ["users_password_hash_length", "users", "password_hash = repeat('h', 256)"],
    ["users_display_name_length", "users", "display_name = repeat('d', 256)"],
    ["users_first_name_length", "users", "first_name = repeat('f', 101)"],
    ["users_last_name_length", "users", "last_name = repeat('l', 101)"],
    ["users_avatar_url_length", "users", "avatar_url = repeat('u', 501)"],
    ["users_timezone_length", "users", "timezone = ''"],
    ["user_preferences_max_memories_range", "user_preferences", "max_memories_per_request = 101"],
    ["user_preferences_theme_check", "user_preferences", "theme = 'neon'"],
    ["user_preferences_language_format", "user_preferences", "language = 'English'"],
    ["sessions_token_hash_format", "sessions", "token_hash = 'plaintext-token'"],
    ["sessions_refresh_token_hash_format", "sessions", "refresh_token_hash = 'plaintext'"],
    ["sessions_user_agent_length", "sessions", "user_agent = repeat('a', 1025)"],
    ["sessions_expires_after_created", "sessions", "expires_at = created_at"],
    ["memories_content_check", "memories", "content = repeat('x', 50001)"],
    ["memories_title_length", "memories", "title = repeat('t', 501)"],
    ["memories_memory_type_format", "memories", "memory_type = 'Bad Type'"],
    ["memories_source_format", "memories", "source = ''"],
    ["memories_source_id_length", "memories", "source_id = repeat('s', 256)"],
    ["memories_metadata_object", "memories", "metadata = '\"text\"'"],
    ["memories_embedding_status_check", "memories", "embedding_status = 'done'"],
    ["memories_embedding_model_length", "memories", "embedding_model = repeat('m', 101)"],
    ["memories_completed_has_embedding", "memories", "embedding = NULL"],
    ["conversations_type_check", "conversations", "type = 'channel'"],
    ["conversations_name_length", "conversations", "name = repeat('n', 256)"],
    ["conversations_description_length", "conversations", "description = repeat('d', 10001)"],
    ["conversations_avatar_url_length", "conversations", "avatar_url = repeat('u', 501)"],
    ["conversation_participants_role_check", "conversation_participants", "role = 'guest'"],
    ["messages_content_length", "messages", "content = repeat('x', 50001)"],
    ["messages_content_type_check", "messages", "content_type = 'video'"],
    ["messages_status_check", "messages", "status = 'lost'"],
    ["messages_ai_model_length", "messages", "ai_model = repeat('m', 101)"],
    ["message_memory_usage_relevance_range", "message_memory_usage", "relevance_score = 1.5"],
    ["tasks_title_length", "tasks", "title = ''"],
    ["tasks_description_length", "tasks", "description = repeat('d', 50001)"],
    ["tasks_status_check", "tasks", "status = 'blocked'"],
    ["tasks_priority_check", "tasks", "priority = 'critical'"],
    ["tasks_source_check", "tasks", "source = 'email'"],
    ["tasks_source_type_format", "tasks", "source_type = 'Memory!'"],
    ["tasks_recurrence_rule_length", "tasks", "recurrence_rule = repeat('r', 256)"],
    ["tasks_completed_at_iff_done", "tasks", "status = 'done'"],
    ["tasks_due_time_needs_date", "tasks", "due_time = '09:00', due_date = NULL"],
    ["integrations_provider_check", "integrations", "provider = 'dropbox'"],
    ["integrations_status_check", "integrations", "status = 'broken'"],
    ["integrations_disconnected_without_tokens", "integrations", "status = 'disconnected', access_token_encrypted = '\\x01'"],
    ["integrations_sync_cursor_length", "integrations", "sync_cursor = repeat('c', 4097)"],
    ["integrations_provider_user_id_length", "integrations", "provider_user_id = repeat('p', 256)"],
    ["integrations_provider_email_length", "integrations", "provider_email = repeat('e', 256)"],
    ["integrations_metadata_object", "integrations", "metadata = '1'"],
    ["gmail_messages_gmail_id_length", "gmail_messages", "gmail_id = ''"],
    ["gmail_messages_thread_id_length", "gmail_messages", "thread_id = repeat('t', 256)"],
    ["gmail_messages_from_email_length", "gmail_messages", "from_email = repeat('f', 256)"],
    ["calendar_events_provider_check", "calendar_events", "provider = 'slack'"],
    ["calendar_events_provider_event_id_length", "calendar_events", "provider_event_id = ''"],
    ["calendar_events_calendar_id_length", "calendar_events", "calendar_id = repeat('c', 256)"],
    ["calendar_events_title_length", "calendar_events", "title = repeat('t', 501)"],
    ["calendar_events_timezone_length", "calendar_events", "timezone = repeat('z', 51)"],
    ["calendar_events_attendees_array", "calendar_events", "attendees = '{}'"],
    ["calendar_events_recurrence_rule_length", "calendar_events", "recurrence_rule = repeat('r', 256)"],
    ["calendar_events_end_after_start", "calendar_events", "end_time = start_time - interval '1 second'"],
    ["drive_files_provider_check", "drive_files", "provider = 'notion'"],
    ["drive_files_provider_file_id_length", "drive_files", "provider_file_id = ''"],
    ["drive_files_name_length", "drive_files", "name = ''"],
    ["drive_files_mime_type_length", "drive_files", "mime_type = repeat('m', 256)"],
    ["drive_files_size_bytes_nonnegative", "drive_files", "size_bytes = -1"],
    ["entities_entity_type_format", "entities", "entity_type = 'A Person'"],
    ["entities_name_length", "entities", "name = ''"],
    ["entities_metadata_object", "entities", "metadata = 'null'"],
    ["entities_mention_count_positive", "entities", "mention_count = 0"],
    ["entities_seen_order", "entities", "last_seen_at = first_seen_at - interval '1 day'"],
    ["entity_relationships_type_format", "entity_relationships", "relationship_type = 'Works At'"],
    ["entity_relationships_strength_range", "entity_relationships", "strength = -0.1"],
    ["entity_relationships_not_self", "entity_relationships", "target_entity_id = source_entity_id"],
    ["entity_mentions_source_type_check", "entity_mentions", "source_type = 'tweet'"],
    ["entity_mentions_position_nonnegative", "entity_mentions", "position = -1"],
    ["roles_name_length", "roles", "name = ''"],
    ["roles_permissions_format", "roles", "permissions = '{\"read everything\"}'"],
    ["roles_global_are_system", "roles", "organization_id = NULL, is_system = false"],
    ["user_roles_expires_after_granted", "user_roles", "expires_at = granted_at"],
    ["document_templates_name_length", "document_templates", "name = ''"],
    ["document_templates_document_type_format", "document_templates", "document_type = 'Report!'"],
    ["document_templates_global_are_system", "document_templates", "organization_id = NULL"],
    ["documents_document_type_format", "documents", "document_type = ''"],
    ["documents_title_length", "documents", "title = ''"],
    ["documents_status_check", "documents", "status = 'archived'"],
    ["devices_device_token_length", "devices", "device_token = ''"],
    ["devices_platform_check", "devices", "platform = 'windows'"],
    ["devices_device_name_length", "devices", "device_name = repeat('d', 256)"],
    ["notifications_type_format", "notifications", "type = 'Task Due'"],
    ["notifications_title_length", "notifications", "title = repeat('t', 256)"],
    ["notifications_data_object", "notifications", "data = '[]'"],
    ["notifications_resource_type_format", "notifications", "resource_type = 'Task'"],
    ["notifications_read_at_iff_read", "notifications", "is_read = true"],
  ];
  // [constraint, columns, values] of an INSERT next to organization_id.
  const auditCases: [string, string, string][] = [
    ["audit_logs_action_format", "action", "'Created'"],
    ["audit_logs_resource_type_format", "action, resource_type", "'user.created', 'User Account'"],
    ["audit_logs_resource_id_length", "action, resource_id", "'user.created', repeat('r', 256)"],
    ["audit_logs_user_agent_length", "action, user_agent", "'user.created', repeat('u', 1025)"],
    ["audit_logs_status_check", "action, status", "'user.created', 'maybe'"],
    ["audit_logs_metadata_object", "action, metadata", "'user.created', '[]'"],
    ["audit_logs_error_iff_failure", "action, status", "'user.created', 'failure'"],
  ];

  it("the cases cover every CHECK constraint of the schema", async () => {
    const all = await q<{ name: string }>(
      "SELECT DISTINCT conname AS name FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace JOIN pg_class c ON c.oid = k.conrelid WHERE n.nspname = 'workspace' AND k.contype = 'c' AND NOT c.relispartition ORDER BY 1",
    );
    expect([...cases.map(([name]) => name), ...auditCases.map(([name]) => name)].sort()).toEqual(all.map((r) => r.name));
  });

  it.each(cases)("%s rejects a bad row with a ValidationError naming it, and changes nothing", async (constraint, table, set) => {
    const before = await q(`SELECT * FROM workspace.${table} ORDER BY 1`);
    const err = await t.db.transaction((c) => c.query(`UPDATE workspace.${table} SET ${set}`)).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.constraint).toBe(constraint);
    expect(err.message).toContain(constraint);
    expect(await q(`SELECT * FROM workspace.${table} ORDER BY 1`)).toEqual(before);
  });

  it.each(auditCases)("%s rejects a bad audit row", async (constraint, columns, values) => {
    const err = await t.db
      .transaction((c) => c.query(`INSERT INTO workspace.audit_logs (organization_id, ${columns}) VALUES ($1, ${values})`, [w.org]))
      .catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.constraint).toBe(constraint);
  });
});
