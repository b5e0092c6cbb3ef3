/**
 * Organisations, users, preferences and sessions.
 *
 * Platform operations (no tenant yet): createOrganization (with its first member, the owner), resolveSession,
 * refreshSession and purgeExpiredSessions run on the owner connection.
 * workspace.users is under FORCEd row-level security, so resolveSession needs an owner that bypasses RLS
 * (superuser or BYPASSRLS), as the migrating role is on both engines here. Everything else runs as `app`
 * inside the organisation.
 */
import crypto from "node:crypto";
import { z } from "zod";
import { ForbiddenError } from "../db/errors";
import { many, maybeOne, one } from "../db/rows";
import { setLocalTenant } from "../db/tx";
import { jsonRecord, timestamp } from "../db/validate";
import { actingUser, type AuditEntry, operation, platformOperation, recordAudit, recordPlatformAudit, refusal, word, workspaceContext } from "./context";
import type { IGetPreferencesResult, IInsertOrganizationResult, IInsertUserResult } from "./queries/organizations.queries";
import { sql } from "./sql";

export type Organization = IInsertOrganizationResult;
export type User = Omit<IInsertUserResult, "password_hash">;
export type Preferences = IGetPreferencesResult;

const slug = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,98}[a-z0-9])?$/, "must be lower-case letters, digits and inner hyphens, at most 100 chars");
export const email = z.email().max(255);
const userId = z.object({ userId: z.uuid() });

/** Change the organisation's name or settings (organization:update); fields left out keep their value. The plan is the platform's. */
export const updateOrganization = operation({
  name: "workspace.organization.update",
  input: z.object({ name: z.string().trim().min(1).max(255).optional(), settings: jsonRecord.optional() }),
  kind: "write",
  affects: "organization",
  permission: "organization:update",
  context: "user",
  reveals: "tenant",
  audit: "change",
  async run(p, { c, ctx }): Promise<Organization> {
    const o = await one(sql.organizations.updateOrganization, { id: ctx.organizationId, name: p.name, settings: p.settings && JSON.stringify(p.settings) }, c);
    // Setting values may be anything: the trail names what changed, the new name, and the settings' keys.
    await recordAudit(c, ctx, {
      action: "organization.updated",
      resourceType: "organization",
      resourceId: o.id,
      newValue: { ...(p.name !== undefined && { name: o.name }), ...(p.settings !== undefined && { settings_keys: Object.keys(p.settings) }) },
    });
    return o;
  },
});

const withoutHash = ({ password_hash: _ignored, ...u }: IInsertUserResult): User => u;
const userSchema = z.object({
  email,
  passwordHash: z.string().min(1).max(255).optional(),
  displayName: z.string().max(255).optional(),
  firstName: z.string().max(100).optional(),
  lastName: z.string().max(100).optional(),
  avatarUrl: z.url().max(500).optional(),
  timezone: z.string().min(1).max(50).optional(),
});
export type NewUser = z.input<typeof userSchema>;

/** A new organisation and its first member, its owner. */
export type NewOrganization = Organization & { owner: User };

/**
 * Create an organisation with its first member, who becomes its owner (system role owner, `*`): a platform
 * operation, since there is no member yet to hold users:create. Audited in the organisation's trail
 * (organization.created, user.created, role.granted), by the platform actor.
 */
export const createOrganization = platformOperation({
  name: "workspace.organization.create",
  input: z.object({
    name: z.string().trim().min(1).max(255),
    slug: slug.optional(),
    planType: word.optional(),
    settings: jsonRecord.optional(),
    owner: userSchema,
  }),
  kind: "write",
  affects: "platform",
  context: "platform",
  reveals: "nothing",
  audit: "change",
  async run({ owner, ...p }, { c, ctx }): Promise<NewOrganization> {
    const o = await one(sql.organizations.insertOrganization, { ...p, settings: p.settings && JSON.stringify(p.settings) }, c);
    await setLocalTenant(c, o.id); // users and user_roles are under FORCEd RLS, for the owner connection too
    const u = withoutHash(await one(sql.organizations.insertUser, { organizationId: o.id, ...owner }, c));
    const g = await one(sql.rbac.grantOwner, { userId: u.id, organizationId: o.id }, c);
    const as = workspaceContext({ organizationId: o.id, userId: ctx.actorId });
    const audit = (e: AuditEntry) => recordAudit(c, as, e);
    await audit({
      action: "organization.created",
      resourceType: "organization",
      resourceId: o.id,
      newValue: { name: o.name, slug: o.slug, plan_type: o.plan_type },
    });
    await audit({ action: "user.created", resourceType: "user", resourceId: u.id, newValue: { email: u.email } });
    await audit({ action: "role.granted", resourceType: "user", resourceId: u.id, newValue: { role_id: g.role_id, role: "owner", expires_at: null } });
    return { ...o, owner: u };
  },
});

/**
 * Platform operation (billing): set an organisation's plan. The plan is not the organisation's to change
 * (`app` has no UPDATE on plan_type); audited in the organisation's trail by the platform actor.
 */
export const setOrganizationPlan = platformOperation({
  name: "workspace.organization.plan",
  input: z.object({ organizationId: z.uuid(), planType: word }),
  kind: "write",
  affects: "platform",
  context: "platform",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx }): Promise<Organization> {
    const { old_plan_type, ...o } = await one(
      sql.organizations.setOrganizationPlan,
      { id: p.organizationId, planType: p.planType },
      c,
      "organization not found",
    );
    await recordPlatformAudit(c, o.id, ctx.actorId, {
      action: "organization.plan_changed",
      resourceType: "organization",
      resourceId: o.id,
      oldValue: { plan_type: old_plan_type },
      newValue: { plan_type: o.plan_type },
    });
    return o;
  },
});

/**
 * Platform operation: delete an organisation, as the seed cascades it: its conversations (with participants
 * and messages), tasks, roles, grants and templates go; its members stay as accounts of no organisation
 * (users.organization_id SET NULL), with their private data. `requestedBy`, when a member asked for it, must
 * hold organization:delete (the system role owner does), checked in this transaction.
 *
 * The record: audit_logs rows carry the organisation as a plain uuid, not a foreign key, and the trail is
 * append-only, so the organisation's own trail outlives it. `organization.deleted` is written there, in the
 * transaction of the delete, by the platform actor (and names the member who asked); after it nobody is a
 * member of that organisation any more, so the trail is read from the owner connection (a DBA, the platform).
 */
export const deleteOrganization = platformOperation({
  name: "workspace.organization.delete",
  input: z.object({ organizationId: z.uuid(), requestedBy: z.uuid().optional() }),
  kind: "write",
  affects: "platform",
  context: "platform",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx }): Promise<{ id: string; members_detached: number }> {
    await setLocalTenant(c, p.organizationId); // users and grants are under FORCEd RLS, for the owner connection too
    const o = await one(sql.organizations.getOrganization, { id: p.organizationId }, c, "organization not found");
    if (p.requestedBy && !(await one(sql.organizations.memberHolds, { userId: p.requestedBy, permission: "organization:delete" }, c)).granted)
      throw new ForbiddenError("the member who asked does not hold the permission organization:delete");
    const { members } = await one(sql.organizations.organizationMemberCount, { organizationId: o.id }, c);
    // Detached members keep their accounts, not their sessions: a session names no organisation to act in.
    const { revoked } = await one(sql.organizations.revokeOrganizationSessions, { organizationId: o.id }, c);
    await recordAudit(c, workspaceContext({ organizationId: o.id, userId: ctx.actorId }), {
      action: "organization.deleted",
      resourceType: "organization",
      resourceId: o.id,
      oldValue: { name: o.name, slug: o.slug, plan_type: o.plan_type },
      metadata: { requested_by: p.requestedBy ?? null, members_detached: members, sessions_revoked: revoked },
    });
    await one(sql.organizations.deleteOrganization, { id: o.id }, c);
    return { id: o.id, members_detached: members };
  },
});

// README:getOrganization
/** The context's organisation. */
export const getOrganization = operation({
  name: "workspace.organization.get",
  input: z.object({}),
  kind: "read",
  context: "tenant",
  reveals: "tenant",
  audit: "none",
  oneStatement: true,
  run: (_p, { c, ctx }): Promise<Organization> => one(sql.organizations.getOrganization, { id: ctx.organizationId }, c, "organization not found"),
});
// README:end

/** Add a member to the context's organisation (users:create). A taken email (any case) is a ConflictError. */
export const createUser = operation({
  name: "workspace.user.create",
  input: userSchema,
  kind: "write",
  affects: "organization",
  permission: "users:create",
  context: "user",
  reveals: "tenant",
  audit: "change",
  async run(p, { c, ctx }): Promise<User> {
    const u = withoutHash(await one(sql.organizations.insertUser, { organizationId: ctx.organizationId, ...p }, c));
    await recordAudit(c, ctx, { action: "user.created", resourceType: "user", resourceId: u.id, newValue: { email: u.email } });
    return u;
  },
});

/** The organisation's user with this email, compared case-insensitively; null when there is none. */
export const findUserByEmail = operation({
  name: "workspace.user.find",
  input: z.object({ email }),
  kind: "read",
  context: "tenant",
  reveals: "tenant",
  audit: "none",
  oneStatement: true,
  async run(p, { c }): Promise<User | null> {
    const row = await maybeOne(sql.organizations.userByEmail, p, c);
    return row && withoutHash(row);
  },
});

/** A user of the organisation (NotFoundError otherwise). */
export const getUser = operation({
  name: "workspace.user.get",
  input: userId,
  kind: "read",
  context: "tenant",
  reveals: "tenant",
  audit: "none",
  oneStatement: true,
  run: async (p, { c }): Promise<User> => withoutHash(await one(sql.organizations.getUser, { id: p.userId }, c, "user not found in this organization")),
});

/**
 * Remove a member (users:delete); their private data cascades, their messages stay with sender NULL. Only a
 * member holding no permission beyond the actor's (an admin cannot remove an owner), and never the last owner.
 */
export const deleteUser = operation({
  name: "workspace.user.delete",
  input: userId,
  kind: "write",
  affects: "organization",
  permission: "users:delete",
  context: "user",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx }): Promise<void> {
    if (!(await maybeOne(sql.organizations.deleteUser, { id: p.userId }, c))) {
      await refusal(
        maybeOne(sql.organizations.getUser, { id: p.userId }, c),
        "the member holds permissions the acting user does not hold",
        "user not found in this organization",
      );
    }
    await recordAudit(c, ctx, { action: "user.deleted", resourceType: "user", resourceId: p.userId });
  },
});

const preferencesSchema = z
  .object({
    autoIncludeMemories: z.boolean(),
    maxMemoriesPerRequest: z.number().int().min(0).max(100),
    autoExtractFromChat: z.boolean(),
    excludedMemoryTypes: z.array(word).max(50),
    emailNotifications: z.boolean(),
    pushNotifications: z.boolean(),
    theme: z.enum(["light", "dark", "system"]),
    language: z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/, "must be a BCP 47 tag such as en or pt-BR"),
  })
  .partial();
export type PreferencesInput = z.input<typeof preferencesSchema>;

/** The acting user's preferences (the defaults, stored on first read, when never set). */
export const getPreferences = operation({
  name: "workspace.preferences.get",
  input: z.object({}),
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "own",
  audit: "none",
  async run(_p, { c, ctx }): Promise<Preferences> {
    const userId = actingUser(ctx);
    return (await maybeOne(sql.organizations.getPreferences, { userId }, c)) ?? (await one(sql.organizations.upsertPreferences, { userId }, c));
  },
});

/** Change some of the acting user's preferences; fields left out keep their value. */
export const updatePreferences = operation({
  name: "workspace.preferences.update",
  input: preferencesSchema,
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "own",
  audit: "change",
  async run(p, { c, ctx }): Promise<Preferences> {
    const userId = actingUser(ctx);
    const row = await one(sql.organizations.upsertPreferences, { userId, ...p }, c);
    await recordAudit(c, ctx, { action: "preferences.updated", resourceType: "user", resourceId: userId, newValue: p });
    return row;
  },
});

/** A new session: the tokens are returned once; only their SHA-256 hashes are stored. */
export interface NewSession {
  session_id: string;
  expires_at: Date;
  token: string;
  refresh_token: string | null;
}

const sha256 = (token: string) => crypto.createHash("sha256").update(token, "utf8").digest("hex");
const newToken = () => crypto.randomBytes(32).toString("base64url");

/** Open a session for the acting user; the tokens are returned once and stored only as hashes. */
export const createSession = operation({
  name: "workspace.session.create",
  input: z.object({
    ttlSeconds: z
      .number()
      .int()
      .min(60)
      .max(90 * 86_400)
      .default(7 * 86_400),
    withRefreshToken: z.boolean().default(false),
  }),
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "own",
  audit: "change",
  async run(p, { c, ctx }): Promise<NewSession> {
    const userId = actingUser(ctx);
    const token = newToken();
    const refreshToken = p.withRefreshToken ? newToken() : null;
    const s = await one(
      sql.organizations.insertSession,
      {
        userId,
        tokenHash: sha256(token),
        refreshTokenHash: refreshToken && sha256(refreshToken),
        ipAddress: ctx.ipAddress,
        userAgent: ctx.userAgent,
        expiresAt: new Date(Date.now() + p.ttlSeconds * 1000),
      },
      c,
    );
    await many(sql.organizations.touchLogin, { id: userId }, c);
    await recordAudit(c, ctx, { action: "session.created", resourceType: "session", resourceId: s.id });
    return { session_id: s.id, expires_at: s.expires_at, token, refresh_token: refreshToken };
  },
});

/** Platform operation: who a session token belongs to. Unknown, expired or deactivated -> NotFoundError. */
export const resolveSession = platformOperation({
  name: "workspace.session.resolve",
  input: z.object({ token: z.string().min(20).max(200) }),
  kind: "read",
  context: "platform",
  reveals: "nothing",
  audit: "none",
  oneStatement: true,
  run: (p, { c }) => one(sql.organizations.resolveSession, { tokenHash: sha256(p.token) }, c, "no live session for this token"),
});

/** A refreshed session: new tokens, shown once; the refresh token presented is spent. */
export interface RefreshedSession extends NewSession {
  user_id: string;
  organization_id: string | null;
}

/**
 * Platform operation: trade a live session's refresh token for a new token and refresh token (rotation: the
 * presented refresh token stops working in the same statement, so a stolen one works at most once, and a
 * replay of a spent one is a NotFoundError). The session keeps its id; its expiry moves by ttlSeconds.
 */
export const refreshSession = platformOperation({
  name: "workspace.session.refresh",
  input: z.object({
    refreshToken: z.string().min(20).max(200),
    ttlSeconds: z
      .number()
      .int()
      .min(60)
      .max(90 * 86_400)
      .default(7 * 86_400),
  }),
  kind: "write",
  affects: "platform",
  context: "platform",
  reveals: "nothing",
  audit: "change",
  async run(p, { c }): Promise<RefreshedSession> {
    const token = newToken();
    const refreshToken = newToken();
    const s = await one(
      sql.organizations.rotateSession,
      {
        tokenHash: sha256(token),
        refreshTokenHash: sha256(refreshToken),
        expiresAt: new Date(Date.now() + p.ttlSeconds * 1000),
        oldRefreshTokenHash: sha256(p.refreshToken),
      },
      c,
      "no live session for this refresh token",
    );
    if (s.organization_id) {
      await recordPlatformAudit(c, s.organization_id, s.user_id, {
        action: "session.refreshed",
        resourceType: "session",
        resourceId: s.session_id,
      });
    }
    return { session_id: s.session_id, expires_at: s.expires_at, token, refresh_token: refreshToken, user_id: s.user_id, organization_id: s.organization_id };
  },
});

/**
 * Platform operation (`make purge-sessions`, for a scheduler): delete every session that expired before
 * `before` (default now). Each organisation's audit trail gets one `session.purged` row with the count.
 */
export const purgeExpiredSessions = platformOperation({
  name: "workspace.session.purge",
  input: z.object({ before: timestamp.optional() }),
  kind: "write",
  affects: "platform",
  context: "platform",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx }): Promise<{ purged: number; organizations: { organization_id: string | null; purged: number }[] }> {
    const rows = await many(sql.organizations.purgeExpiredSessions, p, c);
    for (const r of rows) {
      if (!r.organization_id) continue;
      await recordPlatformAudit(c, r.organization_id, ctx.actorId, {
        action: "session.purged",
        resourceType: "session",
        metadata: { purged: Number(r.purged) },
      });
    }
    const organizations = rows.map((r) => ({ organization_id: r.organization_id, purged: Number(r.purged) }));
    return { purged: organizations.reduce((n, o) => n + o.purged, 0), organizations };
  },
});

/** Log out: delete one of the acting user's sessions. */
export const endSession = operation({
  name: "workspace.session.end",
  input: z.object({ sessionId: z.uuid() }),
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "nothing",
  audit: "change",
  async run(p, { c, ctx }): Promise<void> {
    await one(sql.organizations.deleteSession, { id: p.sessionId }, c, "session not found");
    await recordAudit(c, ctx, { action: "session.ended", resourceType: "session", resourceId: p.sessionId });
  },
});
