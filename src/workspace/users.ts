/**
 * Organisations, users, preferences and sessions.
 *
 * Platform operations (no tenant yet): createOrganization and resolveSession run on the owner connection.
 * workspace.users is under FORCEd row-level security, so resolveSession needs an owner that bypasses RLS
 * (superuser or BYPASSRLS), as the migrating role is on both engines here. Everything else runs as `app`
 * inside the organisation.
 */
import crypto from "node:crypto";
import { z } from "zod";
import type { Db } from "../db/connect";
import { NotFoundError } from "../db/errors";
import { jsonRecord, parseInput } from "../db/validate";
import { setLocalTenant } from "../db/tx";
import { actingUser, recordAudit, run, runField, runParsed, type WorkspaceContext, workspaceContext, word } from "./context";
import {
  deleteUser as deleteUserQuery,
  deleteSession,
  getPreferences,
  getUser,
  type IGetPreferencesResult,
  type IInsertOrganizationResult,
  type IInsertUserResult,
  insertOrganization,
  insertSession,
  insertUser,
  resolveSession as resolveSessionQuery,
  touchLogin,
  upsertPreferences,
  userByEmail,
} from "./queries/organizations.queries";

export type Organization = IInsertOrganizationResult;
export type User = Omit<IInsertUserResult, "password_hash">;
export type Preferences = IGetPreferencesResult;

const slug = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,98}[a-z0-9])?$/, "must be lower-case letters, digits and inner hyphens, at most 100 chars");
export const email = z.email().max(255);

const organizationSchema = z.object({
  name: z.string().trim().min(1).max(255),
  slug: slug.optional(),
  planType: word.optional(),
  settings: jsonRecord.optional(),
});

/** Create an organisation (platform operation) and its first audit row. */
export async function createOrganization(db: Db, input: z.input<typeof organizationSchema>, actorId: string | null = null): Promise<Organization> {
  const p = parseInput(organizationSchema.extend({ actorId: z.uuid().nullable() }), { ...input, actorId }, "organization");
  return db.transaction(async (c) => {
    const [org] = await insertOrganization.run(
      { name: p.name, slug: p.slug ?? null, planType: p.planType ?? null, settings: p.settings ? JSON.stringify(p.settings) : null },
      c,
    );
    const o = org as Organization;
    // audit_logs is under FORCEd RLS: write the first row as the new organisation.
    await setLocalTenant(c, o.id);
    await recordAudit(c, workspaceContext({ organizationId: o.id, userId: p.actorId }), {
      action: "organization.created",
      resourceType: "organization",
      resourceId: o.id,
      newValue: { name: o.name, slug: o.slug, plan_type: o.plan_type },
    });
    return o;
  });
}

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

const withoutHash = ({ password_hash: _ignored, ...u }: IInsertUserResult): User => u;

/** Add a user to the context's organisation. A taken email (any case) is a ConflictError. */
export async function createUser(db: Db, ctx: WorkspaceContext, input: NewUser): Promise<User> {
  return runParsed(db, ctx, "user.create", userSchema, input, async (p, c) => {
    const [row] = await insertUser.run(
      {
        organizationId: ctx.organizationId,
        email: p.email,
        passwordHash: p.passwordHash ?? null,
        displayName: p.displayName ?? null,
        firstName: p.firstName ?? null,
        lastName: p.lastName ?? null,
        avatarUrl: p.avatarUrl ?? null,
        timezone: p.timezone ?? null,
      },
      c,
    );
    const u = withoutHash(row as IInsertUserResult);
    await recordAudit(c, ctx, { action: "user.created", resourceType: "user", resourceId: u.id, newValue: { email: u.email } });
    return u;
  });
}

/** The organisation's user with this email, compared case-insensitively; null when there is none. */
export async function findUserByEmail(db: Db, ctx: WorkspaceContext, address: string): Promise<User | null> {
  return runField(db, ctx, "user.find", "email", email, address, async (e, c) => {
    const [row] = await userByEmail.run({ email: e }, c);
    return row ? withoutHash(row) : null;
  });
}

export async function getUserById(db: Db, ctx: WorkspaceContext, userId: string): Promise<User> {
  return runField(db, ctx, "user.get", "userId", z.uuid(), userId, async (id, c) => {
    const [row] = await getUser.run({ id }, c);
    if (!row) throw new NotFoundError("user not found in this organization");
    return withoutHash(row);
  });
}

/** Delete a user of the organisation; their private data cascades, their messages stay with sender NULL. */
export async function deleteUser(db: Db, ctx: WorkspaceContext, userId: string): Promise<void> {
  await runField(db, ctx, "user.delete", "userId", z.uuid(), userId, async (id, c) => {
    const [row] = await deleteUserQuery.run({ id }, c);
    if (!row) throw new NotFoundError("user not found in this organization");
    await recordAudit(c, ctx, { action: "user.deleted", resourceType: "user", resourceId: id });
  });
}

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

/** The acting user's preferences (the defaults when never set). */
export async function getPreferencesOf(db: Db, ctx: WorkspaceContext): Promise<Preferences> {
  return run(db, ctx, "preferences.get", async (c) => {
    const userId = actingUser(ctx);
    const [row] = await getPreferences.run({ userId }, c);
    return row ?? (await upsertPreferences.run({ userId }, c))[0]!;
  });
}

/** Change some of the acting user's preferences; fields left out keep their value. */
export async function updatePreferences(db: Db, ctx: WorkspaceContext, input: PreferencesInput): Promise<Preferences> {
  return runParsed(db, ctx, "preferences.update", preferencesSchema, input, async (p, c) => {
    const userId = actingUser(ctx);
    const [row] = await upsertPreferences.run({ userId, ...p }, c);
    await recordAudit(c, ctx, { action: "preferences.updated", resourceType: "user", resourceId: userId, newValue: p });
    return row!;
  });
}

const sessionSchema = z.object({
  ttlSeconds: z.number().int().min(60).max(90 * 86_400).default(7 * 86_400),
  withRefreshToken: z.boolean().default(false),
});

export interface NewSession {
  sessionId: string;
  expiresAt: Date;
  /** Shown once: only its SHA-256 hash is stored. */
  token: string;
  refreshToken: string | null;
}

const sha256 = (token: string) => crypto.createHash("sha256").update(token, "utf8").digest("hex");
const newToken = () => crypto.randomBytes(32).toString("base64url");

/** Open a session for the acting user; the tokens are returned once and stored only as hashes. */
export async function createSession(db: Db, ctx: WorkspaceContext, input: z.input<typeof sessionSchema> = {}): Promise<NewSession> {
  return runParsed(db, ctx, "session.create", sessionSchema, input, async (p, c) => {
    const userId = actingUser(ctx);
    const token = newToken();
    const refreshToken = p.withRefreshToken ? newToken() : null;
    const [s] = await insertSession.run(
      {
        userId,
        tokenHash: sha256(token),
        refreshTokenHash: refreshToken ? sha256(refreshToken) : null,
        ipAddress: ctx.ipAddress ?? null,
        userAgent: ctx.userAgent ?? null,
        expiresAt: new Date(Date.now() + p.ttlSeconds * 1000),
      },
      c,
    );
    await touchLogin.run({ id: userId }, c);
    await recordAudit(c, ctx, { action: "session.created", resourceType: "session", resourceId: s!.id });
    return { sessionId: s!.id, expiresAt: s!.expires_at, token, refreshToken };
  });
}

export interface ResolvedSession {
  sessionId: string;
  userId: string;
  organizationId: string | null;
  expiresAt: Date;
}

/** Platform operation: who a session token belongs to. Unknown, expired or deactivated -> NotFoundError. */
export async function resolveSession(db: Db, token: string): Promise<ResolvedSession> {
  const t = parseInput(z.string().min(20).max(200), token, "token");
  const [row] = await db.transaction((c) => resolveSessionQuery.run({ tokenHash: sha256(t) }, c), { readOnly: true });
  if (!row) throw new NotFoundError("no live session for this token");
  return { sessionId: row.session_id, userId: row.user_id, organizationId: row.organization_id, expiresAt: row.expires_at };
}

/** Log out: delete one of the acting user's sessions. */
export async function endSession(db: Db, ctx: WorkspaceContext, sessionId: string): Promise<void> {
  await runField(db, ctx, "session.end", "sessionId", z.uuid(), sessionId, async (id, c) => {
    actingUser(ctx);
    const [row] = await deleteSession.run({ id }, c);
    if (!row) throw new NotFoundError("session not found");
    await recordAudit(c, ctx, { action: "session.ended", resourceType: "session", resourceId: id });
  });
}
