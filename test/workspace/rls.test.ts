/**
 * Row-level security of the workspace, with hand-written SQL as the application role `app` (what a bug or an
 * injected statement in the service could do): organisations cannot see or touch each other's rows, users
 * cannot see each other's private rows, and with no tenant set nothing at all is visible.
 */
import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { ForbiddenError } from "../../src/db/errors";
import { APP_ROLE } from "../../src/db/tx";
import { useTestDb } from "../support/db";
import { seedWorld, TABLES, type World } from "./fixtures";

const t = useTestDb();
const q = async <T = Record<string, unknown>>(sql: string, params: unknown[] = []) => (await t.db.pool.query(sql, params)).rows as T[];

/**
 * Which organisation and user (owner-side SQL over the row alias r) each row belongs to. user: null marks
 * organisation-scoped tables (visible to every member); system rows have no organisation.
 */
const OWNERSHIP: Record<(typeof TABLES)[number], { org: string; user: string | null }> = {
  organizations: { org: "r.id", user: null },
  users: { org: "r.organization_id", user: null },
  conversations: { org: "r.organization_id", user: null },
  conversation_participants: { org: "(SELECT organization_id FROM workspace.conversations c WHERE c.id = r.conversation_id)", user: null },
  messages: { org: "(SELECT organization_id FROM workspace.conversations c WHERE c.id = r.conversation_id)", user: null },
  tasks: { org: "r.organization_id", user: null },
  roles: { org: "r.organization_id", user: null },
  user_roles: { org: "r.organization_id", user: null },
  document_templates: { org: "r.organization_id", user: null },
  audit_logs: { org: "r.organization_id", user: null },
  user_preferences: { org: "(SELECT organization_id FROM workspace.users u WHERE u.id = r.user_id)", user: "r.user_id" },
  sessions: { org: "(SELECT organization_id FROM workspace.users u WHERE u.id = r.user_id)", user: "r.user_id" },
  memories: { org: "(SELECT organization_id FROM workspace.users u WHERE u.id = r.user_id)", user: "r.user_id" },
  message_memory_usage: {
    org: "(SELECT u.organization_id FROM workspace.memories m JOIN workspace.users u ON u.id = m.user_id WHERE m.id = r.memory_id)",
    user: "(SELECT m.user_id FROM workspace.memories m WHERE m.id = r.memory_id)",
  },
  integrations: { org: "(SELECT organization_id FROM workspace.users u WHERE u.id = r.user_id)", user: "r.user_id" },
  gmail_messages: { org: "(SELECT organization_id FROM workspace.users u WHERE u.id = r.user_id)", user: "r.user_id" },
  calendar_events: { org: "(SELECT organization_id FROM workspace.users u WHERE u.id = r.user_id)", user: "r.user_id" },
  drive_files: { org: "(SELECT organization_id FROM workspace.users u WHERE u.id = r.user_id)", user: "r.user_id" },
  entities: { org: "(SELECT organization_id FROM workspace.users u WHERE u.id = r.user_id)", user: "r.user_id" },
  entity_relationships: {
    org: "(SELECT u.organization_id FROM workspace.entities e JOIN workspace.users u ON u.id = e.user_id WHERE e.id = r.source_entity_id)",
    user: "(SELECT e.user_id FROM workspace.entities e WHERE e.id = r.source_entity_id)",
  },
  entity_mentions: {
    org: "(SELECT u.organization_id FROM workspace.entities e JOIN workspace.users u ON u.id = e.user_id WHERE e.id = r.entity_id)",
    user: "(SELECT e.user_id FROM workspace.entities e WHERE e.id = r.entity_id)",
  },
  documents: { org: "(SELECT organization_id FROM workspace.users u WHERE u.id = r.user_id)", user: "r.user_id" },
  devices: { org: "(SELECT organization_id FROM workspace.users u WHERE u.id = r.user_id)", user: "r.user_id" },
  notifications: { org: "(SELECT organization_id FROM workspace.users u WHERE u.id = r.user_id)", user: "r.user_id" },
};

/** Run `fn` as `app` with exactly these settings (no tenant / no user when undefined). */
function asApp<T>(tenant: string | undefined, user: string | undefined, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  return t.db.transaction(async (c) => {
    await c.query("SELECT set_config('role', $1, true), set_config('app.tenant_id', $2, true), set_config('app.user_id', $3, true)", [
      APP_ROLE,
      tenant ?? "",
      user ?? "",
    ]);
    return fn(c);
  });
}

/** Rows the owner sees in `table` that a member (or, with user, that user) of `org` should see. */
async function expected(table: (typeof TABLES)[number], org: string, user?: string): Promise<number> {
  const o = OWNERSHIP[table];
  const system = table === "roles" || table === "document_templates" ? " OR r.organization_id IS NULL" : "";
  const mine = o.user ? (user ? ` AND ${o.user} = '${user}'` : " AND false") : "";
  // A private conversation's participants and messages: only its participants see them (and, for the
  // participants, its creator); an open conversation's: every member.
  const who = user ? `'${user}'` : "NULL";
  const member = `EXISTS (SELECT FROM workspace.conversation_participants p WHERE p.conversation_id = r.conversation_id AND p.user_id = ${who})`;
  const creator = table === "conversation_participants" ? ` OR c.created_by = ${who}` : "";
  const privateOnly =
    table === "conversation_participants" || table === "messages"
      ? ` AND EXISTS (SELECT FROM workspace.conversations c WHERE c.id = r.conversation_id AND (NOT c.is_private OR ${member}${creator}))`
      : "";
  // The audit trail: only to a member holding audit:read (directly, as audit:* or as *).
  const auditReader =
    table === "audit_logs"
      ? ` AND EXISTS (SELECT FROM workspace.user_roles g JOIN workspace.roles ro ON ro.id = g.role_id
                       WHERE g.user_id = ${who} AND g.organization_id = '${org}' AND (g.expires_at IS NULL OR g.expires_at > now())
                         AND ro.permissions && '{*,audit:*,audit:read}')`
      : "";
  const [row] = await q<{ n: number }>(
    `SELECT count(*)::int AS n FROM workspace.${table} r WHERE (${o.org} = '${org}'${system})${mine}${privateOnly}${auditReader}`,
  );
  return row!.n;
}

let a: World;
let b: World;
beforeAll(async () => {
  a = await seedWorld(q);
  b = await seedWorld(q);
  // A system role and template: readable by every organisation, writable by none through `app`.
  await q("INSERT INTO workspace.roles (name, is_system, permissions) VALUES ('viewer', true, '{memories:read}')");
  await q("INSERT INTO workspace.document_templates (name, document_type, is_system) VALUES ('Memo', 'memo', true)");
});

describe("row-level security as the application role", () => {
  it("the ownership map covers every table", () => {
    expect(Object.keys(OWNERSHIP).sort()).toEqual([...TABLES].sort());
  });

  it("with no tenant set, every table looks empty but for the shared system roles and templates", async () => {
    for (const table of TABLES) {
      const { rows } = await asApp(undefined, undefined, (c) =>
        c.query<{ n: number; system: number }>(
          `SELECT count(*)::int AS n, count(*) FILTER (WHERE ${table === "roles" || table === "document_templates" ? "organization_id IS NULL" : "false"})::int AS system FROM workspace.${table}`,
        ),
      );
      expect(rows[0]!.n - rows[0]!.system, table).toBe(0);
    }
    const { rows } = await asApp(undefined, undefined, (c) =>
      c.query("SELECT name FROM workspace.roles UNION ALL SELECT name FROM workspace.document_templates ORDER BY 1"),
    );
    expect(rows).toEqual([{ name: "Memo" }, { name: "admin" }, { name: "member" }, { name: "owner" }, { name: "viewer" }]);
  });

  it.each([
    ["organisation A, no user", () => [a.org, undefined]],
    ["organisation A as its first user", () => [a.org, a.user]],
    ["organisation A as its second user", () => [a.org, a.other]],
    ["organisation B as its first user", () => [b.org, b.user]],
    ["organisation A claiming B's user", () => [a.org, b.user]],
  ] as [string, () => [string, string | undefined]][])("%s sees exactly its organisation's rows and its own private rows", async (_name, who) => {
    const [org, user] = who();
    // A user id from another organisation is not the acting user of this one: no private rows at all.
    const actingUser = user && (await q("SELECT 1 FROM workspace.users WHERE id = $1 AND organization_id = $2", [user, org])).length ? user : undefined;
    for (const table of TABLES) {
      const seen = (await asApp(org, user, (c) => c.query<{ n: number }>(`SELECT count(*)::int AS n FROM workspace.${table}`))).rows[0]!.n;
      expect(seen, table).toBe(await expected(table, org, actingUser));
    }
  });

  it("cannot change or delete another organisation's or another user's rows (0 rows), nor the shared system rows", async () => {
    const targets: [string, string][] = [
      ["organizations", b.org],
      ["users", b.user],
      ["conversations", b.conversation],
      ["messages", b.message],
      ["memories", b.memory],
      ["integrations", b.integration],
      ["document_templates", b.template],
      ["roles", b.role],
      // Same organisation, another user's private rows:
      ["memories", a.memory],
      ["integrations", a.integration],
    ];
    for (const [table, id] of targets) {
      const [org, user] = table === "memories" || table === "integrations" ? [a.org, a.other] : [a.org, a.user];
      const upd = await asApp(org, user, (c) => c.query(`UPDATE workspace.${table} SET id = id WHERE id = $1`, [id])).catch((e) => e);
      if (upd instanceof ForbiddenError) continue; // no UPDATE privilege at all (organizations): stronger still
      expect(upd.rowCount, `update ${table}`).toBe(0);
      const del = await asApp(org, user, (c) => c.query(`DELETE FROM workspace.${table} WHERE id = $1`, [id])).catch((e) => e);
      if (del instanceof ForbiddenError) continue;
      expect(del.rowCount, `delete ${table}`).toBe(0);
    }
    const sysChanged = await asApp(a.org, a.user, (c) => c.query("UPDATE workspace.roles SET permissions = '{admin:*}' WHERE organization_id IS NULL"));
    expect(sysChanged.rowCount).toBe(0);
  });

  it("cannot insert rows into another organisation or for another user (ForbiddenError)", async () => {
    const inserts: [string, unknown[]][] = [
      ["INSERT INTO workspace.tasks (user_id, organization_id, title) VALUES ($1, $2, 'x')", [b.user, b.org]],
      ["INSERT INTO workspace.tasks (user_id, organization_id, title) VALUES ($1, $2, 'x')", [b.user, a.org]],
      ["INSERT INTO workspace.conversations (organization_id, type) VALUES ($1, 'group')", [b.org]],
      ["INSERT INTO workspace.conversation_participants (conversation_id, user_id) VALUES ($1, $2)", [a.conversation, b.user]],
      ["INSERT INTO workspace.messages (conversation_id, sender_id, content) VALUES ($1, $2, 'x')", [b.conversation, a.user]],
      ["INSERT INTO workspace.messages (conversation_id, sender_id, content) VALUES ($1, $2, 'spoofed')", [a.conversation, a.other]],
      ["INSERT INTO workspace.memories (user_id, content) VALUES ($1, 'x')", [a.other]],
      ["INSERT INTO workspace.memories (user_id, content) VALUES ($1, 'x')", [b.user]],
      ["INSERT INTO workspace.notifications (user_id, type) VALUES ($1, 'x')", [a.other]],
      ["INSERT INTO workspace.users (organization_id, email) VALUES ($1, 'intruder@x.io')", [b.org]],
      ["INSERT INTO workspace.roles (organization_id, name) VALUES (NULL, 'root')", []],
      ["INSERT INTO workspace.user_roles (user_id, role_id, organization_id) VALUES ($1, $2, $3)", [a.user, b.role, a.org]],
      ["INSERT INTO workspace.audit_logs (organization_id, action) VALUES ($1, 'user.forged')", [b.org]],
      ["INSERT INTO workspace.organizations (name) VALUES ('mine now')", []],
    ];
    for (const [sql, params] of inserts) {
      const err = await asApp(a.org, a.user, (c) => c.query(sql, params)).catch((e) => e);
      expect(err, sql).toBeInstanceOf(ForbiddenError);
    }
  });

  it("the audit log is append-only for `app`: no UPDATE, DELETE or TRUNCATE even of its own rows", async () => {
    for (const sql of ["UPDATE workspace.audit_logs SET action = 'x.y'", "DELETE FROM workspace.audit_logs", "TRUNCATE workspace.audit_logs"]) {
      await expect(asApp(a.org, a.user, (c) => c.query(sql))).rejects.toBeInstanceOf(ForbiddenError);
    }
  });
});
