/** Tasks: create, status transitions (completed_at follows status = done), and what is due soon. */
import { z } from "zod";
import type { Db } from "../db/connect";
import { NotFoundError, ValidationError } from "../db/errors";
import { isoDate, timestamp } from "../db/validate";
import { actingUser, recordAudit, runParsed, type WorkspaceContext, word } from "./context";
import { getTaskForUpdate, type IInsertTaskResult, insertTask, setTaskStatus, tasksDueSoon } from "./queries/tasks.queries";

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
    recurrenceRule: z.string().regex(/^(RRULE:)?FREQ=[A-Z]+(;[A-Z]+=[A-Za-z0-9,:+-]+)*$/, "must be an iCalendar RRULE").max(255).optional(),
  })
  .refine((t) => !t.dueTime || t.dueDate, { path: ["dueTime"], message: "needs a dueDate" });
export type NewTask = z.input<typeof taskSchema>;

/** A task of the acting user in the context's organisation. */
export async function createTask(db: Db, ctx: WorkspaceContext, input: NewTask): Promise<Task> {
  return runParsed(db, ctx, "task.create", taskSchema, input, async (p, c) => {
    const [t] = await insertTask.run(
      {
        userId: actingUser(ctx),
        organizationId: ctx.organizationId,
        title: p.title,
        description: p.description ?? null,
        priority: p.priority ?? null,
        dueDate: p.dueDate ?? null,
        dueTime: p.dueTime ?? null,
        reminderAt: p.reminderAt ?? null,
        source: p.source ?? null,
        sourceId: p.sourceId ?? null,
        sourceType: p.sourceType ?? null,
        projectId: p.projectId ?? null,
        tags: p.tags ?? null,
        recurrenceRule: p.recurrenceRule ?? null,
      },
      c,
    );
    await recordAudit(c, ctx, { action: "task.created", resourceType: "task", resourceId: t!.id, newValue: { title: t!.title, priority: t!.priority } });
    return t!;
  });
}

const statusSchema = z.object({ id: z.uuid(), status: z.enum(["todo", "in_progress", "done", "cancelled"]) });

/** Move a task to a new status (see TRANSITIONS); done sets completed_at, leaving done clears it. */
export async function changeTaskStatus(db: Db, ctx: WorkspaceContext, id: string, status: TaskStatus): Promise<Task> {
  return runParsed(db, ctx, "task.status", statusSchema, { id, status }, async (p, c) => {
    const [current] = await getTaskForUpdate.run({ id: p.id }, c);
    if (!current) throw new NotFoundError("task not found");
    const from = current.status as TaskStatus;
    if (from === p.status) return current;
    if (!TRANSITIONS[from].includes(p.status)) throw new ValidationError(`invalid status: a ${from} task cannot become ${p.status}`, ["status"]);
    const [t] = await setTaskStatus.run({ id: p.id, status: p.status }, c);
    await recordAudit(c, ctx, { action: "task.status_changed", resourceType: "task", resourceId: p.id, oldValue: { status: from }, newValue: { status: p.status } });
    return t!;
  });
}

const dueSchema = z.object({ days: z.number().int().min(0).max(366).default(7), today: isoDate.optional() });

/** The acting user's open tasks due from `today` (default: the database's current date) to today + days. */
export async function tasksDueSoonOf(db: Db, ctx: WorkspaceContext, input: z.input<typeof dueSchema> = {}): Promise<Task[]> {
  return runParsed(
    db,
    ctx,
    "task.due",
    dueSchema,
    input,
    (p, c) => tasksDueSoon.run({ userId: actingUser(ctx), today: p.today ?? null, days: p.days }, c),
    { readOnly: true },
  );
}
