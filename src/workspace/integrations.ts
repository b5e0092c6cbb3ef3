/**
 * Integrations (OAuth connections) and the rows they sync. Tokens are encrypted with the shared keyring
 * (AES-256-GCM, key id inside, AAD = "workspace.integrations:<user>:<provider>:<kind>") and never logged or
 * audited. Synced gmail messages, calendar events and drive files are upserted on the seed's UNIQUE keys, so
 * a re-sync (or two concurrent ones) never duplicates a row.
 */
import type pg from "pg";
import { z } from "zod";
import { Keyring } from "../db/crypto";
import { many, one } from "../db/rows";
import { jsonRecord, timeRange, timestamp } from "../db/validate";
import { actingUser, operation, recordAudit } from "./context";
import type { IUpsertIntegrationResult } from "./queries/integrations.queries";
import { sql } from "./sql";

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
export const connectIntegration = operation({
  name: "workspace.integration.connect",
  input: connectSchema,
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "own",
  audit: "change",
  async run(p, { c, ctx, db }): Promise<Integration> {
    const userId = actingUser(ctx);
    const k = Keyring.forConfig(db.config);
    const row = await one(
      sql.integrations.upsertIntegration,
      {
        userId,
        ...p,
        accessTokenEncrypted: k.encrypt(p.accessToken, tokenAad(userId, p.provider, "access")),
        refreshTokenEncrypted: p.refreshToken ? k.encrypt(p.refreshToken, tokenAad(userId, p.provider, "refresh")) : null,
        metadata: p.metadata && JSON.stringify(p.metadata),
      },
      c,
    );
    await recordAudit(c, ctx, {
      action: "integration.connected",
      resourceType: "integration",
      resourceId: row.id,
      newValue: { provider: p.provider, scopes: p.scopes ?? [] },
    });
    return redact(row);
  },
});

const integrationId = z.object({ integrationId: z.uuid() });

/** The decrypted tokens of one of the acting user's integrations, for calling the provider. */
export const integrationTokens = operation({
  name: "workspace.integration.tokens",
  input: integrationId,
  kind: "read",
  context: "tenant",
  reveals: "own",
  audit: "none",
  oneStatement: true,
  async run(p, { c, db }): Promise<{ access_token: string | null; refresh_token: string | null }> {
    const row = await one(sql.integrations.getIntegration, { id: p.integrationId }, c, "integration not found");
    const k = Keyring.forConfig(db.config);
    return {
      access_token: row.access_token_encrypted && k.decryptString(row.access_token_encrypted, tokenAad(row.user_id, row.provider, "access")),
      refresh_token: row.refresh_token_encrypted && k.decryptString(row.refresh_token_encrypted, tokenAad(row.user_id, row.provider, "refresh")),
    };
  },
});

/**
 * Set an integration's status (pending, active, expired, error, disconnected). Disconnecting wipes both tokens
 * and their expiry in the same statement (a CHECK holds the line for hand-written SQL); connecting again
 * stores new ones.
 */
export const setIntegrationState = operation({
  name: "workspace.integration.status",
  input: z.object({ id: z.uuid(), status: z.enum(["pending", "active", "expired", "error", "disconnected"]) }),
  kind: "write",
  affects: "own",
  context: "tenant",
  reveals: "own",
  audit: "change",
  async run(p, { c, ctx }): Promise<Integration> {
    const row = await one(sql.integrations.setIntegrationStatus, p, c, "integration not found");
    const wiped = p.status === "disconnected";
    await recordAudit(c, ctx, {
      action: "integration.status_changed",
      resourceType: "integration",
      resourceId: p.id,
      newValue: { status: p.status, ...(wiped ? { tokens_wiped: true } : {}) },
    });
    return redact(row);
  },
});

/** Record a finished sync: the provider cursor to resume from and last_sync_at = now. */
export const markIntegrationSynced = operation({
  name: "workspace.integration.synced",
  input: z.object({ id: z.uuid(), syncCursor: z.string().min(1).max(4096).nullable() }),
  kind: "write",
  affects: "own",
  context: "tenant",
  reveals: "own",
  audit: "none",
  run: async (p, { c }): Promise<Integration> => redact(await one(sql.integrations.markSynced, p, c, "integration not found")),
});

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
  /** Rows removed by the batch's tombstones (0 for an id already gone: replaying a batch deletes nothing more). */
  deleted: number;
}

type Ids = (integrationId: string, ids: string[], c: pg.ClientBase) => Promise<unknown[]>;

/**
 * One generic sync for the three synced kinds: validate, keep the last row per provider key (one statement
 * cannot upsert the same key twice), sort by key (concurrent syncs then lock rows in the same order and
 * do not deadlock), and send the batch as one JSON array. `deleted` is the batch's tombstones: provider ids
 * deleted at the provider, whose rows are deleted (not marked: the row is a copy of the provider's, and a
 * deleted mail's body has no reason to stay). Tombstones apply after the upserts, so an id in both ends
 * deleted; they are sorted too, and deleting an id already gone is a no-op, so a replayed or concurrent
 * batch ends in the same state.
 */
function syncOperation<R extends z.ZodType>(
  kind: "gmail" | "calendar" | "drive",
  row: R,
  key: (r: z.output<R>) => string,
  upsert: (integrationId: string, rowsJson: string, c: pg.ClientBase) => Promise<{ inserted: boolean }[]>,
  remove: Ids,
) {
  return operation({
    name: `workspace.sync.${kind}`,
    input: integrationId.extend({ rows: z.array(row).max(5000), deleted: z.array(short(255)).max(5000).default([]) }),
    kind: "write",
    affects: "own",
    context: "tenant",
    reveals: "nothing",
    audit: "change",
    async run(p, { c, ctx }): Promise<SyncResult> {
      await one(sql.integrations.getIntegration, { id: p.integrationId }, c, "integration not found");
      const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
      const unique = [...new Map(p.rows.map((r) => [key(r), r])).entries()].sort(([a], [b]) => byKey(a, b)).map(([, r]) => r);
      const out = unique.length ? await upsert(p.integrationId, JSON.stringify(unique), c) : [];
      const tombstones = [...new Set(p.deleted)].sort(byKey);
      const gone = tombstones.length ? await remove(p.integrationId, tombstones, c) : [];
      const inserted = out.filter((r) => r.inserted).length;
      const result = { inserted, updated: out.length - inserted, deleted: gone.length };
      await recordAudit(c, ctx, { action: "integration.synced", resourceType: "integration", resourceId: p.integrationId, metadata: { kind, ...result } });
      return result;
    },
  });
}

/** Upsert synced Gmail messages on (user_id, gmail_id); `deleted` gmail ids are removed. */
export const syncGmailMessages = syncOperation(
  "gmail",
  gmailRow,
  (r) => r.gmail_id,
  (integrationId, rows, c) => many(sql.integrations.upsertGmailMessages, { integrationId, rows }, c),
  (integrationId, ids, c) => many(sql.integrations.deleteGmailMessages, { integrationId, ids }, c),
);
/** Upsert synced calendar events on (user_id, provider, provider_event_id); `deleted` event ids are removed. */
export const syncCalendarEvents = syncOperation(
  "calendar",
  calendarRow,
  (r) => r.provider_event_id,
  (integrationId, rows, c) => many(sql.integrations.upsertCalendarEvents, { integrationId, rows }, c),
  (integrationId, ids, c) => many(sql.integrations.deleteCalendarEvents, { integrationId, ids }, c),
);
/** Upsert synced drive files on (user_id, provider, provider_file_id); `deleted` file ids are removed. */
export const syncDriveFiles = syncOperation(
  "drive",
  driveRow,
  (r) => r.provider_file_id,
  (integrationId, rows, c) => many(sql.integrations.upsertDriveFiles, { integrationId, rows }, c),
  (integrationId, ids, c) => many(sql.integrations.deleteDriveFiles, { integrationId, ids }, c),
);

/** Full-text search over the acting user's synced mail (subject and body). */
export const searchMail = operation({
  name: "workspace.mail.search",
  input: z.object({ query: z.string().trim().min(1).max(1000), limit: z.number().int().min(1).max(200).default(20) }),
  kind: "read",
  context: "user",
  reveals: "own",
  audit: "none",
  oneStatement: true,
  run: (p, { c, ctx }) => many(sql.integrations.searchGmail, { userId: actingUser(ctx), ...p }, c),
});

/** The acting user's calendar events overlapping [from, to). */
export const calendarBetween = operation({
  name: "workspace.calendar.list",
  input: timeRange,
  kind: "read",
  context: "user",
  reveals: "own",
  audit: "none",
  oneStatement: true,
  run: (p, { c, ctx }) => many(sql.integrations.eventsBetween, { userId: actingUser(ctx), ...p }, c),
});
