/**
 * Issue 15, item 3: disconnecting an integration wipes both tokens in the statement that changes its state
 * (audited; a CHECK holds the line for hand-written SQL as `app`); refresh tokens rotate (each works once);
 * expired sessions are purged by a platform operation, audited per organisation.
 */
import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { NotFoundError, ValidationError } from "../../src/db/errors";
import { platformContext } from "../../src/db/operation";
import * as ws from "../../src/workspace";
import { useTestDb } from "../support/db";

const t = useTestDb();

async function member(label: string) {
  const tag = crypto.randomBytes(4).toString("hex");
  const org = await ws.createOrganization(t.db, platformContext(), {
    name: `${label} ${tag}`,
    slug: `${label}-${tag}`,
    owner: { email: `${label}.${tag}@example.com` },
  });
  const user = org.owner;
  return { org, user, ctx: ws.workspaceContext({ organizationId: org.id, userId: user.id }) };
}

/** The organisation's audit rows of one action, read as the organisation with its owner acting (audit:read). */
const auditActions = async (organizationId: string, action: string) =>
  (
    await t.db.tenant({ tenantId: organizationId, userId: await ownerOf(organizationId) }, (c) =>
      c.query("SELECT new_value, metadata FROM workspace.audit_logs WHERE organization_id = $1 AND action = $2 ORDER BY timestamp", [organizationId, action]),
    )
  ).rows;
const ownerOf = async (organizationId: string) =>
  (
    await t.db.pool.query("SELECT user_id FROM workspace.user_roles WHERE organization_id = $1 AND role_id = workspace.owner_role_id() LIMIT 1", [
      organizationId,
    ])
  ).rows[0].user_id as string;

describe("integration tokens", () => {
  it("disconnecting wipes both tokens in the same statement, audited; connecting again stores new ones", async () => {
    const { org, ctx } = await member("wipe");
    const integration = await ws.connectIntegration(t.db, ctx, {
      provider: "google",
      accessToken: "access-1",
      refreshToken: "refresh-1",
      tokenExpiresAt: new Date(Date.now() + 3_600_000),
    });
    expect(await ws.integrationTokens(t.db, ctx, { integrationId: integration.id })).toEqual({ access_token: "access-1", refresh_token: "refresh-1" });

    const off = await ws.setIntegrationState(t.db, ctx, { id: integration.id, status: "disconnected" });
    expect(off).toMatchObject({ status: "disconnected", has_access_token: false, has_refresh_token: false, token_expires_at: null });
    expect(await ws.integrationTokens(t.db, ctx, { integrationId: integration.id })).toEqual({ access_token: null, refresh_token: null });
    const stored = await t.db.pool.query("SELECT access_token_encrypted, refresh_token_encrypted, token_expires_at FROM workspace.integrations WHERE id = $1", [
      integration.id,
    ]);
    expect(stored.rows).toEqual([{ access_token_encrypted: null, refresh_token_encrypted: null, token_expires_at: null }]);
    expect((await auditActions(org.id, "integration.status_changed")).map((r) => r.new_value)).toEqual([{ status: "disconnected", tokens_wiped: true }]);

    const again = await ws.connectIntegration(t.db, ctx, { provider: "google", accessToken: "access-2" });
    expect(again).toMatchObject({ id: integration.id, status: "active", has_access_token: true, has_refresh_token: false });
    expect(await ws.integrationTokens(t.db, ctx, { integrationId: integration.id })).toEqual({ access_token: "access-2", refresh_token: null });
    // Other states keep the tokens.
    await ws.setIntegrationState(t.db, ctx, { id: integration.id, status: "error" });
    expect(await ws.integrationTokens(t.db, ctx, { integrationId: integration.id })).toEqual({ access_token: "access-2", refresh_token: null });
  });

  it("hand-written SQL as app cannot disconnect and keep the tokens (CHECK integrations_disconnected_without_tokens)", async () => {
    const { org, user, ctx } = await member("check");
    const integration = await ws.connectIntegration(t.db, ctx, { provider: "slack", accessToken: "secret" });
    const err = await t.db
      .tenant({ tenantId: org.id, userId: user.id }, (c) =>
        c.query("UPDATE workspace.integrations SET status = 'disconnected' WHERE id = $1", [integration.id]),
      )
      .catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.constraint).toBe("integrations_disconnected_without_tokens");
    expect(await ws.integrationTokens(t.db, ctx, { integrationId: integration.id })).toEqual({ access_token: "secret", refresh_token: null });
  });
});

describe("sessions", () => {
  it("a refresh rotates both tokens: the old token and the spent refresh token stop working", async () => {
    const { org, user, ctx } = await member("rotate");
    const s = await ws.createSession(t.db, ctx, { ttlSeconds: 3600, withRefreshToken: true });
    const platform = platformContext();
    const refreshed = await ws.refreshSession(t.db, platform, { refreshToken: s.refresh_token as string, ttlSeconds: 7200 });
    expect(refreshed).toMatchObject({ session_id: s.session_id, user_id: user.id, organization_id: org.id });
    expect(refreshed.token).not.toBe(s.token);
    expect(refreshed.refresh_token).not.toBe(s.refresh_token);
    expect(refreshed.expires_at.getTime()).toBeGreaterThan(s.expires_at.getTime());

    await expect(ws.resolveSession(t.db, platform, { token: s.token })).rejects.toBeInstanceOf(NotFoundError);
    expect(await ws.resolveSession(t.db, platform, { token: refreshed.token })).toMatchObject({ session_id: s.session_id, user_id: user.id });
    // A replayed (spent) refresh token is refused; the current one works once more.
    await expect(ws.refreshSession(t.db, platform, { refreshToken: s.refresh_token as string })).rejects.toBeInstanceOf(NotFoundError);
    await ws.refreshSession(t.db, platform, { refreshToken: refreshed.refresh_token as string });
    expect((await auditActions(org.id, "session.refreshed")).length).toBe(2);
    // Only hashes are stored.
    const row = (await t.db.pool.query("SELECT token_hash, refresh_token_hash FROM workspace.sessions WHERE id = $1", [s.session_id])).rows[0];
    expect(JSON.stringify(row)).not.toContain(refreshed.token);
  });

  it("purges expired sessions only, with one audit row per organisation holding its count", async () => {
    const a = await member("purge-a");
    const b = await member("purge-b");
    const sessions = [
      await ws.createSession(t.db, a.ctx, {}),
      await ws.createSession(t.db, a.ctx, {}),
      await ws.createSession(t.db, b.ctx, {}),
      await ws.createSession(t.db, b.ctx, {}),
    ];
    const expire = (ids: string[]) =>
      t.db.pool.query(
        "UPDATE workspace.sessions SET created_at = now() - interval '2 days', expires_at = now() - interval '1 day' WHERE id = ANY($1::uuid[])",
        [ids],
      );
    await expire([sessions[0]!.session_id, sessions[1]!.session_id, sessions[2]!.session_id]);

    const r = await ws.purgeExpiredSessions(t.db, platformContext());
    const mine = r.organizations.filter((o) => o.organization_id === a.org.id || o.organization_id === b.org.id);
    expect(mine.sort((x, y) => (x.purged < y.purged ? 1 : -1))).toEqual([
      { organization_id: a.org.id, purged: 2 },
      { organization_id: b.org.id, purged: 1 },
    ]);
    const left = await t.db.pool.query("SELECT id FROM workspace.sessions WHERE id = ANY($1::uuid[])", [sessions.map((s) => s.session_id)]);
    expect(left.rows.map((x) => x.id)).toEqual([sessions[3]!.session_id]);
    expect((await auditActions(a.org.id, "session.purged")).map((x) => x.metadata)).toEqual([{ purged: 2 }]);
    expect((await auditActions(b.org.id, "session.purged")).map((x) => x.metadata)).toEqual([{ purged: 1 }]);
    // Nothing left to purge: no new audit rows.
    expect((await ws.purgeExpiredSessions(t.db, platformContext())).organizations.filter((o) => o.organization_id === a.org.id)).toEqual([]);
  });
});
