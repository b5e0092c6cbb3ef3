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
