/** Tasks: create, status transitions (completed_at follows status = done), and what is due soon. */
import { z } from "zod";
import { NotFoundError, ValidationError } from "../db/errors";
import { many, maybeOne, one } from "../db/rows";
import { isoDate, timestamp } from "../db/validate";
import { actingUser, operation, recordAudit, word } from "./context";
import type { IInsertTaskResult } from "./queries/tasks.queries";
import { sql } from "./sql";

export type Task = IInsertTaskResult;
export type TaskStatus = "todo" | "in_progress" | "done" | "cancelled";

/** Allowed status changes: work moves forward, and done or cancelled tasks can be reopened. */
export const TRANSITIONS: Record<TaskStatus, readonly TaskStatus[]> = {
  todo: ["in_progress", "done", "cancelled"],
  in_progress: ["todo", "done", "cancelled"],
  done: ["todo", "in_progress"],
  cancelled: ["todo"],
};

const taskSchema = z
  .object({
    title: z.string().trim().min(1).max(500),
    description: z.string().max(50_000).optional(),
    priority: z.enum(["low", "medium", "high", "urgent"]).optional(),
    dueDate: isoDate.optional(),
    dueTime: z.iso.time().optional(),
    reminderAt: timestamp.optional(),
    source: z.enum(["manual", "ai_created", "ai_extracted", "integration"]).optional(),
    sourceId: z.uuid().optional(),
    sourceType: word.optional(),
    projectId: z.uuid().optional(),
    tags: z.array(z.string().min(1).max(100)).max(100).optional(),
    recurrenceRule: z
      .string()
      .regex(/^(RRULE:)?FREQ=[A-Z]+(;[A-Z]+=[A-Za-z0-9,:+-]+)*$/, "must be an iCalendar RRULE")
      .max(255)
      .optional(),
  })
  .refine((t) => !t.dueTime || t.dueDate, { path: ["dueTime"], message: "needs a dueDate" });
export type NewTask = z.input<typeof taskSchema>;

/** A task of the acting user in the context's organisation. */
export const createTask = operation({
  name: "workspace.task.create",
  input: taskSchema,
  kind: "write",
  affects: "own",
  context: "user",
  reveals: "own",
  audit: "change",
  async run(p, { c, ctx }): Promise<Task> {
    const t = await one(sql.tasks.insertTask, { userId: actingUser(ctx), organizationId: ctx.organizationId, ...p }, c);
    await recordAudit(c, ctx, { action: "task.created", resourceType: "task", resourceId: t.id, newValue: { title: t.title, priority: t.priority } });
    return t;
  },
});

/** Move a task to a new status (see TRANSITIONS); done sets completed_at, leaving done clears it. */
export const changeTaskStatus = operation({
  name: "workspace.task.status",
  input: z.object({ id: z.uuid(), status: z.enum(["todo", "in_progress", "done", "cancelled"]) }),
  kind: "write",
  affects: "own",
  context: "tenant",
  reveals: "own",
  audit: "change",
  async run(p, { c, ctx }): Promise<Task> {
    const current = await one(sql.tasks.getTaskForUpdate, p, c, "task not found");
    const from = current.status as TaskStatus;
    if (from === p.status) return current;
    if (!TRANSITIONS[from].includes(p.status)) throw new ValidationError(`invalid status: a ${from} task cannot become ${p.status}`, ["status"]);
    const t = await one(sql.tasks.setTaskStatus, p, c);
    await recordAudit(c, ctx, {
      action: "task.status_changed",
      resourceType: "task",
      resourceId: p.id,
      oldValue: { status: from },
      newValue: { status: p.status },
    });
    return t;
  },
});

const editSchema = z
  .object({
    id: z.uuid(),
    title: z.string().trim().min(1).max(500).optional(),
    /** null clears it. */
    description: z.string().max(50_000).nullable().optional(),
    /** null clears the due date (and its time); a date replaces both date and time (dueTime, or none). */
    dueDate: isoDate.nullable().optional(),
    dueTime: z.iso.time().optional(),
    /** Who the task is for: an active member of the organisation. */
    assigneeId: z.uuid().optional(),
  })
  .refine((t) => !t.dueTime || t.dueDate, { path: ["dueTime"], message: "needs a dueDate" })
  .refine((t) => Object.keys(t).some((k) => k !== "id"), { path: ["title"], message: "nothing to change" });

/**
 * Edit a task of the organisation: title, description, due date (and time), assignee; fields left out keep
 * their value. A new assignee must be an active member of the organisation (another organisation's user is
 * not found, an inactive member a ValidationError naming assigneeId). Tasks are the organisation's working
 * data: any member may edit one, as any member may move its status.
 */
export const editTask = operation({
  name: "workspace.task.edit",
  input: editSchema,
  kind: "write",
  affects: "tenant",
  context: "user",
  reveals: "tenant",
  audit: "change",
  async run(p, { c, ctx }): Promise<Task> {
    const setDue = p.dueDate !== undefined;
    const t = await maybeOne(
      sql.tasks.editTask,
      {
        id: p.id,
        title: p.title,
        setDescription: p.description !== undefined,
        description: p.description,
        setDue,
        dueDate: p.dueDate,
        dueTime: p.dueTime,
        assigneeId: p.assigneeId,
      },
      c,
    );
    if (!t) {
      await one(sql.tasks.getTask, { id: p.id }, c, "task not found");
      const assignee = p.assigneeId ? await maybeOne(sql.organizations.getUser, { id: p.assigneeId }, c) : null;
      if (!assignee) throw new NotFoundError("assignee not found in this organization");
      throw new ValidationError("the assignee must be an active member of the organization", ["assigneeId"]);
    }
    const changed = (["title", "description", "dueDate", "assigneeId"] as const).filter((k) => p[k] !== undefined);
    await recordAudit(c, ctx, {
      action: "task.edited",
      resourceType: "task",
      resourceId: t.id,
      newValue: { changed, ...(p.assigneeId !== undefined && { assignee_id: t.user_id }), ...(p.title !== undefined && { title: t.title }) },
    });
    return t;
  },
});

/** The acting user's open tasks due from `today` (default: the database's current date) to today + days. */
export const tasksDueSoon = operation({
  name: "workspace.task.due",
  input: z.object({ days: z.number().int().min(0).max(366).default(7), today: isoDate.optional() }),
  kind: "read",
  context: "user",
  reveals: "own",
  audit: "none",
  oneStatement: true,
  run: (p, { c, ctx }): Promise<Task[]> => many(sql.tasks.tasksDueSoon, { userId: actingUser(ctx), ...p }, c),
});
