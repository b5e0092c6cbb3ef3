/**
 * Integrations (OAuth connections) and the rows they sync. Tokens are encrypted with the shared keyring
 * (AES-256-GCM, key id inside, AAD = "workspace.integrations:<user>:<provider>:<kind>") and never logged or
 * audited. Synced gmail messages, calendar events and drive files are upserted on the seed's UNIQUE keys, so
 * a re-sync (or two concurrent ones) never duplicates a row.
 */
import type pg from "pg";
import { z } from "zod";
import type { Db } from "../db/connect";
import { Keyring } from "../db/crypto";
import { NotFoundError } from "../db/errors";
import { jsonRecord, timeRange, timestamp } from "../db/validate";
import { actingUser, recordAudit, runField, runParsed, type WorkspaceContext } from "./context";
import {
  eventsBetween,
  getIntegration,
  type IUpsertIntegrationResult,
  markSynced,
  searchGmail,
  setIntegrationStatus,
  upsertCalendarEvents,
  upsertDriveFiles,
  upsertGmailMessages,
  upsertIntegration,
} from "./queries/integrations.queries";

/** An integration as callers see it: ciphertexts replaced by whether a token is stored. */
export type Integration = Omit<IUpsertIntegrationResult, "access_token_encrypted" | "refresh_token_encrypted"> & {
  has_access_token: boolean;
  has_refresh_token: boolean;
};
export type Provider = "google" | "microsoft" | "slack" | "notion";

const tokenAad = (userId: string, provider: string, kind: "access" | "refresh") => `workspace.integrations:${userId}:${provider}:${kind}`;

function redact(row: IUpsertIntegrationResult): Integration {
  const { access_token_encrypted, refresh_token_encrypted, ...rest } = row;
  return { ...rest, has_access_token: access_token_encrypted !== null, has_refresh_token: refresh_token_encrypted !== null };
}

const connectSchema = z.object({
  provider: z.enum(["google", "microsoft", "slack", "notion"]),
  accessToken: z.string().min(1).max(8192),
  refreshToken: z.string().min(1).max(8192).optional(),
  tokenExpiresAt: timestamp.optional(),
  scopes: z.array(z.string().min(1).max(500)).max(100).optional(),
  providerUserId: z.string().max(255).optional(),
  providerEmail: z.email().max(255).optional(),
  metadata: jsonRecord.optional(),
});
export type ConnectInput = z.input<typeof connectSchema>;

/** Connect (or reconnect) the acting user's account at a provider; tokens are stored encrypted. */
export async function connectIntegration(db: Db, ctx: WorkspaceContext, input: ConnectInput): Promise<Integration> {
  return runParsed(db, ctx, "integration.connect", connectSchema, input, async (p, c) => {
    const userId = actingUser(ctx);
    const k = Keyring.forConfig(db.config);
    const [row] = await upsertIntegration.run(
      {
        userId,
        provider: p.provider,
        accessTokenEncrypted: k.encrypt(p.accessToken, tokenAad(userId, p.provider, "access")),
        refreshTokenEncrypted: p.refreshToken ? k.encrypt(p.refreshToken, tokenAad(userId, p.provider, "refresh")) : null,
        tokenExpiresAt: p.tokenExpiresAt ?? null,
        scopes: p.scopes ?? null,
        providerUserId: p.providerUserId ?? null,
        providerEmail: p.providerEmail ?? null,
        metadata: p.metadata ? JSON.stringify(p.metadata) : null,
      },
      c,
    );
    await recordAudit(c, ctx, { action: "integration.connected", resourceType: "integration", resourceId: row!.id, newValue: { provider: p.provider, scopes: p.scopes ?? [] } });
    return redact(row!);
  });
}

/** The decrypted tokens of one of the acting user's integrations, for calling the provider. */
export async function integrationTokens(db: Db, ctx: WorkspaceContext, integrationId: string): Promise<{ accessToken: string | null; refreshToken: string | null }> {
  return runField(db, ctx, "integration.tokens", "integrationId", z.uuid(), integrationId, async (id, c) => {
    const [row] = await getIntegration.run({ id }, c);
    if (!row) throw new NotFoundError("integration not found");
    const k = Keyring.forConfig(db.config);
    return {
      accessToken: row.access_token_encrypted ? k.decryptString(row.access_token_encrypted, tokenAad(row.user_id, row.provider, "access")) : null,
      refreshToken: row.refresh_token_encrypted ? k.decryptString(row.refresh_token_encrypted, tokenAad(row.user_id, row.provider, "refresh")) : null,
    };
  }, { readOnly: true });
}

const statusSchema = z.object({ id: z.uuid(), status: z.enum(["pending", "active", "expired", "error", "disconnected"]) });

export async function setIntegrationState(db: Db, ctx: WorkspaceContext, id: string, status: z.input<typeof statusSchema>["status"]): Promise<Integration> {
  return runParsed(db, ctx, "integration.status", statusSchema, { id, status }, async (p, c) => {
    const [row] = await setIntegrationStatus.run(p, c);
    if (!row) throw new NotFoundError("integration not found");
    await recordAudit(c, ctx, { action: "integration.status_changed", resourceType: "integration", resourceId: p.id, newValue: { status: p.status } });
    return redact(row);
  });
}

const cursorSchema = z.object({ id: z.uuid(), syncCursor: z.string().min(1).max(4096).nullable() });

/** Record a finished sync: the provider cursor to resume from and last_sync_at = now. */
export async function markIntegrationSynced(db: Db, ctx: WorkspaceContext, id: string, syncCursor: string | null): Promise<Integration> {
  return runParsed(db, ctx, "integration.synced", cursorSchema, { id, syncCursor }, async (p, c) => {
    const [row] = await markSynced.run(p, c);
    if (!row) throw new NotFoundError("integration not found");
    return redact(row);
  });
}

const short = (n: number) => z.string().min(1).max(n);
const gmailRow = z.object({
  gmail_id: short(255),
  thread_id: short(255).optional(),
  subject: z.string().max(10_000).optional(),
  from_email: z.string().max(255).optional(),
  to_emails: z.array(z.string().max(255)).max(1000).optional(),
  snippet: z.string().max(10_000).optional(),
  body_text: z.string().max(1_000_000).optional(),
  labels: z.array(short(255)).max(200).optional(),
  is_read: z.boolean().optional(),
  received_at: timestamp.optional(),
});
const calendarRow = z
  .object({
    provider_event_id: short(255),
    calendar_id: short(255).optional(),
    title: z.string().max(500).optional(),
    description: z.string().max(100_000).optional(),
    location: z.string().max(10_000).optional(),
    start_time: timestamp,
    end_time: timestamp,
    is_all_day: z.boolean().optional(),
    timezone: short(50).optional(),
    attendees: z.array(jsonRecord).max(1000).optional(),
    is_online_meeting: z.boolean().optional(),
    online_meeting_url: z.url().optional(),
    recurrence_rule: z.string().max(255).optional(),
  })
  .refine((e) => e.end_time >= e.start_time, { path: ["end_time"], message: "must not be before start_time" });
const driveRow = z.object({
  provider_file_id: short(255),
  name: short(500),
  mime_type: short(255).optional(),
  size_bytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  web_url: z.url().optional(),
  parent_path: z.string().max(10_000).optional(),
  modified_at: timestamp.optional(),
});
export type GmailRow = z.input<typeof gmailRow>;
export type CalendarRow = z.input<typeof calendarRow>;
export type DriveRow = z.input<typeof driveRow>;

export interface SyncResult {
  inserted: number;
  updated: number;
}

/**
 * One generic upsert for the three synced kinds: validate, keep the last row per provider key (one statement
 * cannot upsert the same key twice), sort by key (concurrent syncs then lock rows in the same order and
 * do not deadlock), and send the batch as one JSON array.
 */
function syncer<R extends z.ZodType>(
  kind: "gmail" | "calendar" | "drive",
  row: R,
  key: (r: z.output<R>) => string,
  upsert: (integrationId: string, rowsJson: string, c: pg.ClientBase) => Promise<{ inserted: boolean }[]>,
) {
  const schema = z.object({ integrationId: z.uuid(), rows: z.array(row).max(5000) });
  return (db: Db, ctx: WorkspaceContext, integrationId: string, rows: z.input<R>[]): Promise<SyncResult> =>
    runParsed(db, ctx, `sync.${kind}`, schema, { integrationId, rows }, async (p, c) => {
      const [integration] = await getIntegration.run({ id: p.integrationId }, c);
      if (!integration) throw new NotFoundError("integration not found");
      const unique = [...new Map(p.rows.map((r) => [key(r), r])).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
      const out = unique.length ? await upsert(p.integrationId, JSON.stringify(unique), c) : [];
      const inserted = out.filter((r) => r.inserted).length;
      const result = { inserted, updated: out.length - inserted };
      await recordAudit(c, ctx, { action: "integration.synced", resourceType: "integration", resourceId: p.integrationId, metadata: { kind, ...result } });
      return result;
    });
}

/** Upsert synced Gmail messages on (user_id, gmail_id). */
export const syncGmailMessages = syncer("gmail", gmailRow, (r) => r.gmail_id, (integrationId, rows, c) => upsertGmailMessages.run({ integrationId, rows }, c));
/** Upsert synced calendar events on (user_id, provider, provider_event_id). */
export const syncCalendarEvents = syncer("calendar", calendarRow, (r) => r.provider_event_id, (integrationId, rows, c) => upsertCalendarEvents.run({ integrationId, rows }, c));
/** Upsert synced drive files on (user_id, provider, provider_file_id). */
export const syncDriveFiles = syncer("drive", driveRow, (r) => r.provider_file_id, (integrationId, rows, c) => upsertDriveFiles.run({ integrationId, rows }, c));

const mailSearch = z.object({ query: z.string().trim().min(1).max(1000), limit: z.number().int().min(1).max(200).default(20) });

/** Full-text search over the acting user's synced mail (subject and body). */
export async function searchMail(db: Db, ctx: WorkspaceContext, input: z.input<typeof mailSearch>) {
  return runParsed(db, ctx, "mail.search", mailSearch, input, (p, c) => searchGmail.run({ userId: actingUser(ctx), ...p }, c), { readOnly: true });
}

/** The acting user's calendar events overlapping [from, to). */
export async function calendarBetween(db: Db, ctx: WorkspaceContext, range: z.input<typeof timeRange>) {
  return runParsed(db, ctx, "calendar.list", timeRange, range, (p, c) => eventsBetween.run({ userId: actingUser(ctx), ...p }, c), { readOnly: true });
}
