-- Migration: workspace records over their whole life (issue 19): message edits, deletes and delivery status,
-- leaving a conversation, and the rules behind them for hand-written SQL as `app`.
--
-- What:
--   * workspace.conversation_role(conversation) (SECURITY DEFINER, like is_participant): the acting user's
--     role in the conversation (owner, admin, member), NULL when not a participant.
--   * Messages: `app` may UPDATE only content, status, is_edited, edited_at and deleted_at (column grants
--     instead of the table-wide UPDATE: the conversation, sender, type, model and creation time of a message
--     never change). Trigger guard_message_change holds the rest, since RLS cannot tell columns apart:
--       - the status only moves forward, sent -> delivered -> read (any role, the owner connection too;
--         CHECK-like error 23514 naming messages_status_forward); as `app`, only a participant who is not
--         the sender moves it (a recipient says it was delivered or read, 42501 otherwise);
--       - as `app`, the content (with is_edited and edited_at) changes only by its sender;
--       - as `app`, deleting (deleted_at set) only by the sender or an owner or admin of the conversation;
--       - a deleted message stays deleted and changes no more (23514, messages_deleted_is_final), for every
--         role: the service blanks its content in the statement that deletes it, so the text leaves reads
--         and search at once, while the row keeps the thread's shape and its memory-usage links.
--   * Conversation participants: a restrictive DELETE policy TO app: a participant row goes only by its own
--     user (leaving) or by an owner or admin of the conversation. Trigger keep_a_conversation_admin: a group
--     conversation that still has participants keeps at least one owner or admin; removing or demoting the
--     last one raises OW001 (constraint conversation_keeps_an_admin), for every role. It locks the
--     conversation row first, so two last admins leaving at once cannot both pass. The conversation itself
--     going (or its organisation) and the member being deleted (users:delete) pass: nobody is left to hand
--     over to, or the member's removal is the organisation's decision.
-- Why: issue 19 asks for the operations users expect over a record's life (src/workspace/conversations.ts:
--   editMessage, deleteMessage, setMessageStatus, leaveConversation); the database holds the same line for
--   SQL as `app`, as the permissions migration does for roles and members.
-- Safety: a function, triggers, a policy and a column-grant swap: ACCESS EXCLUSIVE on messages and
--   conversation_participants for an instant; no rewrite, no scan.
-- Down: drops the triggers, functions and policy and gives `app` the table-wide UPDATE on messages back.
--   Rows are not touched either way (deleted messages keep their blank content).

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE FUNCTION workspace.conversation_role(p_conversation_id uuid) RETURNS text
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, workspace
  AS $$
BEGIN
  RETURN (SELECT p.role FROM workspace.conversation_participants p
           WHERE p.conversation_id = p_conversation_id AND p.user_id = workspace.current_user_id());
END $$;
COMMENT ON FUNCTION workspace.conversation_role(uuid) IS 'The acting user''s role (owner, admin, member) in the conversation; NULL when not a participant. Reads participants as the owner.';
REVOKE EXECUTE ON FUNCTION workspace.conversation_role(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION workspace.conversation_role(uuid) TO app;

-- Messages: which columns `app` may change, and who may change them.
REVOKE UPDATE ON workspace.messages FROM app;
GRANT UPDATE (content, status, is_edited, edited_at, deleted_at) ON workspace.messages TO app;

CREATE FUNCTION workspace.guard_message_change() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, workspace
  AS $$
DECLARE
  actor uuid := workspace.current_user_id();
  as_app boolean := current_user = 'app';
BEGIN
  IF OLD.deleted_at IS NOT NULL THEN
    IF (NEW.content, NEW.status, NEW.is_edited, NEW.edited_at, NEW.deleted_at)
       IS DISTINCT FROM (OLD.content, OLD.status, OLD.is_edited, OLD.edited_at, OLD.deleted_at) THEN
      RAISE EXCEPTION 'a deleted message changes no more' USING ERRCODE = 'check_violation', CONSTRAINT = 'messages_deleted_is_final';
    END IF;
    RETURN NEW;
  END IF;
  IF array_position(ARRAY['sent', 'delivered', 'read'], NEW.status) < array_position(ARRAY['sent', 'delivered', 'read'], OLD.status) THEN
    RAISE EXCEPTION 'a message status only moves forward (sent, delivered, read)' USING ERRCODE = 'check_violation', CONSTRAINT = 'messages_status_forward';
  END IF;
  IF NOT as_app THEN RETURN NEW; END IF;
  IF NEW.deleted_at IS NOT NULL THEN
    IF actor IS NULL OR (OLD.sender_id IS DISTINCT FROM actor AND coalesce(workspace.conversation_role(OLD.conversation_id), '') NOT IN ('owner', 'admin')) THEN
      RAISE EXCEPTION 'only the sender or an owner or admin of the conversation deletes a message' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
  END IF;
  IF (NEW.content, NEW.is_edited, NEW.edited_at) IS DISTINCT FROM (OLD.content, OLD.is_edited, OLD.edited_at)
     AND (actor IS NULL OR OLD.sender_id IS DISTINCT FROM actor) THEN
    RAISE EXCEPTION 'only the sender edits a message' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.status IS DISTINCT FROM OLD.status
     AND (actor IS NULL OR OLD.sender_id IS NOT DISTINCT FROM actor OR workspace.conversation_role(OLD.conversation_id) IS NULL) THEN
    RAISE EXCEPTION 'only a recipient (a participant other than the sender) moves a message''s status' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION workspace.guard_message_change() IS 'Trigger: a message status only moves forward and a deleted message changes no more (23514); as `app`, only the sender edits, the sender or a conversation owner/admin deletes, and only a recipient moves the status (42501).';
CREATE TRIGGER guard_message_change BEFORE UPDATE ON workspace.messages
  FOR EACH ROW EXECUTE FUNCTION workspace.guard_message_change();

-- Participants: who may remove a participant, and the last owner or admin of a group.
CREATE POLICY leave_or_remove ON workspace.conversation_participants AS RESTRICTIVE FOR DELETE TO app
  USING (user_id = (SELECT workspace.current_user_id()) OR workspace.conversation_role(conversation_id) IN ('owner', 'admin'));

CREATE FUNCTION workspace.keep_a_conversation_admin() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, workspace
  AS $$
DECLARE
  conv_type text;
BEGIN
  IF OLD.role NOT IN ('owner', 'admin') THEN RETURN NULL; END IF;
  IF TG_OP = 'UPDATE' AND NEW.role IN ('owner', 'admin') AND NEW.conversation_id = OLD.conversation_id AND NEW.user_id = OLD.user_id THEN
    RETURN NULL;
  END IF;
  -- Lock the live conversation: a concurrent leave waits here and then sees this one's outcome.
  SELECT c.type INTO conv_type FROM workspace.conversations c
   WHERE c.id = OLD.conversation_id AND c.deleted_at IS NULL
     FOR NO KEY UPDATE;
  IF NOT FOUND OR conv_type <> 'group' THEN RETURN NULL; END IF;            -- the conversation is going, or not a group
  IF NOT EXISTS (SELECT FROM workspace.users u WHERE u.id = OLD.user_id) THEN RETURN NULL; END IF;  -- the member is being deleted
  IF EXISTS (SELECT FROM workspace.conversation_participants p WHERE p.conversation_id = OLD.conversation_id)
     AND NOT EXISTS (SELECT FROM workspace.conversation_participants p
                      WHERE p.conversation_id = OLD.conversation_id AND p.role IN ('owner', 'admin')) THEN
    RAISE EXCEPTION 'a group conversation must keep an owner or admin while it has participants: hand over first'
      USING ERRCODE = 'OW001', CONSTRAINT = 'conversation_keeps_an_admin';
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION workspace.keep_a_conversation_admin() IS 'Trigger: refuses (OW001, conversation_keeps_an_admin) removing or demoting the last owner or admin of a live group conversation that keeps other participants.';
CREATE TRIGGER keep_a_conversation_admin AFTER UPDATE OF role, conversation_id, user_id OR DELETE ON workspace.conversation_participants
  FOR EACH ROW EXECUTE FUNCTION workspace.keep_a_conversation_admin();

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP TRIGGER keep_a_conversation_admin ON workspace.conversation_participants;
DROP FUNCTION workspace.keep_a_conversation_admin();
DROP POLICY leave_or_remove ON workspace.conversation_participants;
DROP TRIGGER guard_message_change ON workspace.messages;
DROP FUNCTION workspace.guard_message_change();
REVOKE UPDATE (content, status, is_edited, edited_at, deleted_at) ON workspace.messages FROM app;
GRANT UPDATE ON workspace.messages TO app;
DROP FUNCTION workspace.conversation_role(uuid);
