-- Migration: workspace private conversations under row-level security.
--
-- What: a private conversation's participants, messages and memory-usage rows are visible only to its
--   participants, also to hand-written SQL as `app`; an open conversation's to every member of the
--   organisation (as before). Until now only the service enforced it (issue 15: a non-participant of the same
--   organisation, as `app` with the tenant and user context set, read a private message).
--   * workspace.is_participant(conversation) (SECURITY DEFINER) says whether the acting user takes part. It
--     reads conversation_participants as the table owner, so that table is no longer FORCEd for its owner
--     (otherwise the policy that calls the function would apply to the function itself, recursively); `app`
--     stays under its policy. The table has no organisation column, so the convention doctor does not require
--     FORCE on it; the organisation scoping stays in its policy (through conversations, which is FORCEd).
--   * Participants: visible, and insertable, when the conversation is open, the acting user takes part, or the
--     acting user created it (the creator adds the first participants in the statement that makes them, when
--     is_participant cannot see them yet).
--   * Messages: visible when the conversation is open or the acting user takes part. Writing as a user needs
--     the same. The assistant answering in a user's context passes as that participant. A message without a
--     sender written with no acting user (a system job acting for the organisation) may go into any
--     conversation of the organisation; such a context sees, of a private conversation, only the sender-less
--     (AI and system) messages, never what its participants wrote.
--   * message_memory_usage: already requires the message to be visible, so it follows.
-- Safety: policy changes only; ACCESS EXCLUSIVE on the three tables for an instant.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE FUNCTION workspace.is_participant(p_conversation_id uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, workspace
  AS $$ SELECT EXISTS (SELECT FROM workspace.conversation_participants p
                        WHERE p.conversation_id = p_conversation_id
                          AND p.user_id = workspace.current_user_id()) $$;
COMMENT ON FUNCTION workspace.is_participant(uuid) IS 'Whether the acting user (app.user_id) takes part in the conversation; used by the private-conversation policies (reads participants as the owner).';
REVOKE EXECUTE ON FUNCTION workspace.is_participant(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION workspace.is_participant(uuid) TO app;

ALTER TABLE workspace.conversation_participants NO FORCE ROW LEVEL SECURITY;
DROP POLICY conversation_rows ON workspace.conversation_participants;
CREATE POLICY conversation_rows ON workspace.conversation_participants
  USING (EXISTS (SELECT FROM workspace.conversations c
                  WHERE c.id = conversation_id
                    AND (NOT c.is_private OR workspace.is_participant(c.id) OR c.created_by = (SELECT workspace.current_user_id()))))
  WITH CHECK (EXISTS (SELECT FROM workspace.conversations c
                       WHERE c.id = conversation_id
                         AND (NOT c.is_private OR workspace.is_participant(c.id) OR c.created_by = (SELECT workspace.current_user_id())))
              AND EXISTS (SELECT FROM workspace.users u WHERE u.id = user_id));

DROP POLICY conversation_rows ON workspace.messages;
CREATE POLICY conversation_rows ON workspace.messages
  USING (EXISTS (SELECT FROM workspace.conversations c
                  WHERE c.id = conversation_id
                    AND (NOT c.is_private OR workspace.is_participant(c.id)
                         OR (sender_id IS NULL AND (SELECT workspace.current_user_id()) IS NULL))))
  WITH CHECK (EXISTS (SELECT FROM workspace.conversations c
                       WHERE c.id = conversation_id
                         AND (NOT c.is_private OR workspace.is_participant(c.id)
                              OR (sender_id IS NULL AND (SELECT workspace.current_user_id()) IS NULL))));

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP POLICY conversation_rows ON workspace.messages;
CREATE POLICY conversation_rows ON workspace.messages
  USING (EXISTS (SELECT FROM workspace.conversations c WHERE c.id = conversation_id));
DROP POLICY conversation_rows ON workspace.conversation_participants;
CREATE POLICY conversation_rows ON workspace.conversation_participants
  USING (EXISTS (SELECT FROM workspace.conversations c WHERE c.id = conversation_id))
  WITH CHECK (EXISTS (SELECT FROM workspace.conversations c WHERE c.id = conversation_id)
              AND EXISTS (SELECT FROM workspace.users u WHERE u.id = user_id));
ALTER TABLE workspace.conversation_participants FORCE ROW LEVEL SECURITY;
DROP FUNCTION workspace.is_participant(uuid);
