/** Devices registered for push notifications, and in-app notifications. Both private to one user. */
import { z } from "zod";
import { many, one } from "../db/rows";
import { jsonRecord } from "../db/validate";
import { actingUser, operation, recordAudit, word } from "./context";
import type { IInsertNotificationResult, IRegisterDeviceResult } from "./queries/devices.queries";
import { sql } from "./sql";

export type Device = IRegisterDeviceResult;
export type Notification = IInsertNotificationResult;

/** The most UTF-8 bytes a push token may take: the unique btree entry (user_id, device_token) must fit in 2,704 bytes. */
export const DEVICE_TOKEN_MAX_BYTES = 2048;
const deviceToken = z
  .string()
  .min(1)
  .refine((s) => Buffer.byteLength(s) <= DEVICE_TOKEN_MAX_BYTES, `must be at most ${DEVICE_TOKEN_MAX_BYTES} bytes (UTF-8)`);
const limit = z.object({ limit: z.number().int().min(1).max(500).default(50) });

/** Register the acting user's device; registering a known token reactivates it. */
export const registerDevice = operation({
  name: "workspace.device.register",
  input: z.object({ deviceToken, platform: z.enum(["ios", "android", "web"]), deviceName: z.string().max(255).optional() }),
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "own",
  audit: "change",
  async run(p, { c, ctx }): Promise<Device> {
    const d = await one(sql.devices.registerDevice, { userId: actingUser(ctx), ...p }, c);
    await recordAudit(c, ctx, { action: "device.registered", resourceType: "device", resourceId: d.id, newValue: { platform: d.platform } });
    return d;
  },
});

/** Stop pushing to a device (its token expired or the user signed out); the row is kept. */
export const deactivateDevice = operation({
  name: "workspace.device.deactivate",
  input: z.object({ deviceId: z.uuid() }),
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "own",
  audit: "change",
  async run(p, { c, ctx }): Promise<Device> {
    const d = await one(sql.devices.deactivateDevice, { id: p.deviceId }, c, "device not found");
    await recordAudit(c, ctx, { action: "device.deactivated", resourceType: "device", resourceId: p.deviceId });
    return d;
  },
});

/** The acting user's active devices. */
export const activeDevices = operation({
  name: "workspace.device.list",
  input: z.object({}),
  kind: "read",
  context: "user",
  reveals: "own",
  audit: "none",
  oneStatement: true,
  run: (_p, { c, ctx }): Promise<Device[]> => many(sql.devices.activeDevices, { userId: actingUser(ctx) }, c),
});

/**
 * Notify the acting user. (Notifying someone else is done in that user's context, e.g. by the job that
 * delivers it: notifications are private to their user, so RLS refuses writing another user's.)
 */
export const notify = operation({
  name: "workspace.notification.create",
  input: z.object({
    /** The recipient: a member of the context's organisation (default: the acting user). */
    userId: z.uuid().optional(),
    type: z.string().regex(/^[a-z][a-z0-9_.]{0,49}$/, "must be a lower-case dotted word, e.g. task.due"),
    title: z.string().max(255).optional(),
    body: z.string().max(10_000).optional(),
    data: jsonRecord.optional(),
    resourceType: word.optional(),
    resourceId: z.uuid().optional(),
  }),
  kind: "write",
  affects: "own",
  context: "tenant",
  reveals: "own",
  audit: "none",
  run: (p, { c, ctx }): Promise<Notification> =>
    one(sql.devices.insertNotification, { ...p, userId: p.userId ?? actingUser(ctx), data: p.data && JSON.stringify(p.data) }, c),
});

/** The acting user's unread notifications, newest first. */
export const unreadNotifications = operation({
  name: "workspace.notification.unread",
  input: limit,
  kind: "read",
  context: "user",
  reveals: "own",
  audit: "none",
  oneStatement: true,
  run: (p, { c, ctx }): Promise<Notification[]> => many(sql.devices.unreadNotifications, { userId: actingUser(ctx), ...p }, c),
});

/** Mark some of the acting user's notifications read; returns the ids that were unread. */
export const markNotificationsRead = operation({
  name: "workspace.notification.read",
  input: z.object({ ids: z.array(z.uuid()).min(1).max(1000) }),
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "nothing",
  audit: "none",
  run: async (p, { c, ctx }): Promise<string[]> => (await many(sql.devices.markNotificationsRead, { userId: actingUser(ctx), ...p }, c)).map((r) => r.id),
});
