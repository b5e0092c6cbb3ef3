/** Devices registered for push notifications, and in-app notifications. Both private to one user. */
import { z } from "zod";
import type { Db } from "../db/connect";
import { NotFoundError } from "../db/errors";
import { jsonRecord } from "../db/validate";
import { actingUser, recordAudit, runField, runParsed, type WorkspaceContext, word } from "./context";
import {
  activeDevices,
  deactivateDevice as deactivateQuery,
  type IInsertNotificationResult,
  type IRegisterDeviceResult,
  insertNotification,
  markNotificationsRead,
  registerDevice as registerQuery,
  unreadNotifications,
} from "./queries/devices.queries";

export type Device = IRegisterDeviceResult;
export type Notification = IInsertNotificationResult;

/** The most UTF-8 bytes a push token may take: the unique btree entry (user_id, device_token) must fit in 2,704 bytes. */
export const DEVICE_TOKEN_MAX_BYTES = 2048;
const deviceToken = z
  .string()
  .min(1)
  .refine((s) => Buffer.byteLength(s) <= DEVICE_TOKEN_MAX_BYTES, `must be at most ${DEVICE_TOKEN_MAX_BYTES} bytes (UTF-8)`);
const deviceSchema = z.object({ deviceToken, platform: z.enum(["ios", "android", "web"]), deviceName: z.string().max(255).optional() });

/** Register the acting user's device; registering a known token reactivates it. */
export async function registerDevice(db: Db, ctx: WorkspaceContext, input: z.input<typeof deviceSchema>): Promise<Device> {
  return runParsed(db, ctx, "device.register", deviceSchema, input, async (p, c) => {
    const [d] = await registerQuery.run({ userId: actingUser(ctx), ...p, deviceName: p.deviceName ?? null }, c);
    await recordAudit(c, ctx, { action: "device.registered", resourceType: "device", resourceId: d!.id, newValue: { platform: d!.platform } });
    return d!;
  });
}

/** Stop pushing to a device (its token expired or the user signed out); the row is kept. */
export async function deactivateDevice(db: Db, ctx: WorkspaceContext, deviceId: string): Promise<Device> {
  return runField(db, ctx, "device.deactivate", "deviceId", z.uuid(), deviceId, async (id, c) => {
    actingUser(ctx);
    const [d] = await deactivateQuery.run({ id }, c);
    if (!d) throw new NotFoundError("device not found");
    await recordAudit(c, ctx, { action: "device.deactivated", resourceType: "device", resourceId: id });
    return d;
  });
}

export async function activeDevicesOf(db: Db, ctx: WorkspaceContext): Promise<Device[]> {
  return runParsed(db, ctx, "device.list", z.object({}), {}, (_p, c) => activeDevices.run({ userId: actingUser(ctx) }, c), { readOnly: true });
}

const notificationSchema = z.object({
  /** The recipient: a member of the context's organisation (default: the acting user). */
  userId: z.uuid().optional(),
  type: z.string().regex(/^[a-z][a-z0-9_.]{0,49}$/, "must be a lower-case dotted word, e.g. task.due"),
  title: z.string().max(255).optional(),
  body: z.string().max(10_000).optional(),
  data: jsonRecord.optional(),
  resourceType: word.optional(),
  resourceId: z.uuid().optional(),
});

/**
 * Notify the acting user. (Notifying someone else is done in that user's context, e.g. by the job that
 * delivers it: notifications are private to their user, so RLS refuses writing another user's.)
 */
export async function notify(db: Db, ctx: WorkspaceContext, input: z.input<typeof notificationSchema>): Promise<Notification> {
  return runParsed(db, ctx, "notification.create", notificationSchema, input, async (p, c) => {
    const [n] = await insertNotification.run(
      {
        userId: p.userId ?? actingUser(ctx),
        type: p.type,
        title: p.title ?? null,
        body: p.body ?? null,
        data: p.data ? JSON.stringify(p.data) : null,
        resourceType: p.resourceType ?? null,
        resourceId: p.resourceId ?? null,
      },
      c,
    );
    return n!;
  });
}

export async function unreadNotificationsOf(db: Db, ctx: WorkspaceContext, limit = 50): Promise<Notification[]> {
  return runField(db, ctx, "notification.unread", "limit", z.number().int().min(1).max(500), limit, (n, c) => unreadNotifications.run({ userId: actingUser(ctx), limit: n }, c), {
    readOnly: true,
  });
}

/** Mark some of the acting user's notifications read; returns the ids that were unread. */
export async function markNotificationsReadFor(db: Db, ctx: WorkspaceContext, ids: string[]): Promise<string[]> {
  return runField(db, ctx, "notification.read", "ids", z.array(z.uuid()).min(1).max(1000), ids, async (p, c) =>
    (await markNotificationsRead.run({ userId: actingUser(ctx), ids: p }, c)).map((r) => r.id),
  );
}
