/* Tasks (organisation-scoped). completed_at is set exactly while status = done (CHECK). */

/* @name InsertTask */
INSERT INTO workspace.tasks
  (user_id, organization_id, title, description, priority, due_date, due_time, reminder_at, source, source_id, source_type, project_id, tags, recurrence_rule)
VALUES
  (:userId!, :organizationId!, :title!, :description, coalesce(:priority, 'medium'), :dueDate::date, :dueTime::time, :reminderAt,
   coalesce(:source, 'manual'), :sourceId, :sourceType, :projectId, coalesce(:tags::text[], '{}'), :recurrenceRule)
RETURNING *;

/* @name GetTaskForUpdate */
SELECT * FROM workspace.tasks WHERE id = :id! FOR UPDATE;

/* @name SetTaskStatus */
UPDATE workspace.tasks
   SET status = :status!, completed_at = CASE WHEN :status! = 'done' THEN coalesce(completed_at, now()) END
 WHERE id = :id!
RETURNING *;

/* @name TasksDueSoon */
-- Open tasks of a user due between today (default current_date) and today + days (idx_tasks_due_date), soonest first.
SELECT * FROM workspace.tasks
 WHERE user_id = :userId! AND status IN ('todo', 'in_progress')
   AND due_date BETWEEN coalesce(:today::date, current_date) AND coalesce(:today::date, current_date) + :days!::int
 ORDER BY due_date, due_time NULLS LAST, priority = 'urgent' DESC, priority = 'high' DESC, id;

/* @name EditTask */
-- Fields left NULL keep their value; setDescription/setDue clear or set those (clearing the due date clears
-- its time too). A new assignee must be an active member of the organisation (users under RLS: this one).
UPDATE workspace.tasks t
   SET title = coalesce(:title, t.title),
       description = CASE WHEN :setDescription!::boolean THEN :description ELSE t.description END,
       due_date = CASE WHEN :setDue!::boolean THEN :dueDate::date ELSE t.due_date END,
       due_time = CASE WHEN :setDue!::boolean THEN :dueTime::time ELSE t.due_time END,
       user_id = coalesce(:assigneeId, t.user_id)
 WHERE t.id = :id!
   AND (:assigneeId::uuid IS NULL OR EXISTS (SELECT FROM workspace.users u WHERE u.id = :assigneeId::uuid AND u.is_active))
RETURNING t.*;

/* @name GetTask */
SELECT * FROM workspace.tasks WHERE id = :id!;
