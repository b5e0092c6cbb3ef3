/* Conversations, participants and messages (organisation-scoped through the conversation). */

/* @name InsertConversation */
INSERT INTO workspace.conversations (organization_id, type, name, description, is_private, created_by)
VALUES (:organizationId!, :type!, :name, :description, coalesce(:isPrivate, true), :createdBy)
RETURNING *;

/* @name ConversationForMember */
-- The live conversation and the user's role in it (NULL when not a participant).
SELECT c.*, p.role AS "member_role?"
  FROM workspace.conversations c
  LEFT JOIN workspace.conversation_participants p ON p.conversation_id = c.id AND p.user_id = :userId
 WHERE c.id = :id! AND c.deleted_at IS NULL;

/*
  @name AddParticipants
  @param participants -> ((conversationId!, userId!, role!)...)
*/
INSERT INTO workspace.conversation_participants (conversation_id, user_id, role)
VALUES :participants
ON CONFLICT (conversation_id, user_id) DO NOTHING
RETURNING *;

/* @name ListParticipants */
SELECT p.*, u.email, u.display_name
  FROM workspace.conversation_participants p
  JOIN workspace.users u ON u.id = p.user_id
 WHERE p.conversation_id = :conversationId!
 ORDER BY p.joined_at, p.user_id;

/* @name PostMessage */
-- Insert the message and move the conversation's last_message_at in one statement.
WITH m AS (
  INSERT INTO workspace.messages (conversation_id, sender_id, content, content_type, is_ai_response, ai_model)
  VALUES (:conversationId!, :senderId, :content!, :contentType!, :isAiResponse!, :aiModel)
  RETURNING *
), c AS (
  UPDATE workspace.conversations SET last_message_at = (SELECT created_at FROM m)
   WHERE id = :conversationId! AND (last_message_at IS NULL OR last_message_at < (SELECT created_at FROM m))
)
SELECT * FROM m;

/* @name ListMessages */
-- Newest first, keyset-paged by created_at (idx_messages_conversation).
SELECT * FROM workspace.messages
 WHERE conversation_id = :conversationId! AND deleted_at IS NULL AND created_at < coalesce(:before::timestamptz, 'infinity')
 ORDER BY created_at DESC, id DESC
 LIMIT :limit!;

/* @name MarkRead */
UPDATE workspace.conversation_participants
   SET last_read_at = greatest(coalesce(last_read_at, '-infinity'), coalesce(:at::timestamptz, now()))
 WHERE conversation_id = :conversationId! AND user_id = :userId!
RETURNING last_read_at;

/* @name UnreadCounts */
-- Per conversation of the user: messages from others created after the user's last_read_at.
SELECT p.conversation_id, count(m.id)::int AS "unread!"
  FROM workspace.conversation_participants p
  LEFT JOIN workspace.messages m
    ON m.conversation_id = p.conversation_id
   AND m.created_at > coalesce(p.last_read_at, '-infinity')
   AND m.deleted_at IS NULL
   AND m.sender_id IS DISTINCT FROM p.user_id
 WHERE p.user_id = :userId!
 GROUP BY p.conversation_id
 ORDER BY p.conversation_id;

/* @name SearchMessages */
-- Full-text search over the messages of the conversations the user takes part in, best rank first.
-- The conversation filter comes first on purpose: under RLS, the text-search operator is not leakproof, so
-- it cannot drive an index scan; the participant list (idx_participants_user) and idx_messages_conversation can.
SELECT m.id, m.conversation_id, m.sender_id, m.content, m.created_at,
       ts_rank(to_tsvector('english', m.content), websearch_to_tsquery('english', :query!)) AS "rank!"
  FROM workspace.messages m
 WHERE m.conversation_id IN (SELECT p.conversation_id FROM workspace.conversation_participants p WHERE p.user_id = :userId!)
   AND to_tsvector('english', m.content) @@ websearch_to_tsquery('english', :query!) AND m.deleted_at IS NULL
 ORDER BY 6 DESC, m.created_at DESC
 LIMIT :limit!;

/* @name MessageForActor */
-- A live message the acting user can see (RLS), with the user's role in its conversation (NULL when not a participant).
SELECT m.id, m.conversation_id, m.sender_id, m.status, p.role AS "member_role?"
  FROM workspace.messages m
  LEFT JOIN workspace.conversation_participants p ON p.conversation_id = m.conversation_id AND p.user_id = :userId
 WHERE m.id = :id! AND m.deleted_at IS NULL;

/* @name EditMessage */
-- Only the sender's own live message (guard_message_change holds the same line for hand-written SQL).
UPDATE workspace.messages
   SET content = :content!, is_edited = true, edited_at = now()
 WHERE id = :id! AND sender_id = :userId! AND deleted_at IS NULL
RETURNING *;

/* @name DeleteMessage */
-- Soft delete by the sender or an owner/admin of the conversation: deleted_at set and the content blanked in
-- the same statement, so the text leaves reads and search at once; the row keeps the thread's shape.
UPDATE workspace.messages m
   SET deleted_at = now(), content = ''
 WHERE m.id = :id! AND m.deleted_at IS NULL
   AND (m.sender_id = :userId!
        OR EXISTS (SELECT FROM workspace.conversation_participants p
                    WHERE p.conversation_id = m.conversation_id AND p.user_id = :userId! AND p.role IN ('owner', 'admin')))
RETURNING m.id, m.conversation_id, m.sender_id, m.deleted_at;

/* @name AdvanceMessageStatus */
-- A recipient (a participant other than the sender) moves a live message's status forward
-- (sent -> delivered -> read); an earlier status than the current one leaves it as it is.
UPDATE workspace.messages m
   SET status = CASE WHEN array_position(ARRAY['sent', 'delivered', 'read'], :status!::text) > array_position(ARRAY['sent', 'delivered', 'read'], m.status)
                     THEN :status!::text ELSE m.status END
 WHERE m.id = :id! AND m.deleted_at IS NULL AND m.sender_id IS DISTINCT FROM :userId!
   AND EXISTS (SELECT FROM workspace.conversation_participants p WHERE p.conversation_id = m.conversation_id AND p.user_id = :userId!)
RETURNING m.id, m.conversation_id, m.status;

/* @name LockConversationForMember */
-- The live conversation, locked against a concurrent leave or hand-over, with the user's role in it.
SELECT c.id, c.type, p.role AS "member_role?"
  FROM workspace.conversations c
  LEFT JOIN workspace.conversation_participants p ON p.conversation_id = c.id AND p.user_id = :userId
 WHERE c.id = :id! AND c.deleted_at IS NULL
   FOR NO KEY UPDATE OF c;

/* @name OtherParticipantRoles */
-- The roles of the conversation's other participants.
SELECT p.user_id, p.role
  FROM workspace.conversation_participants p
 WHERE p.conversation_id = :conversationId! AND p.user_id <> :userId!
 ORDER BY p.user_id;

/* @name RemoveParticipant */
DELETE FROM workspace.conversation_participants
 WHERE conversation_id = :conversationId! AND user_id = :userId!
RETURNING conversation_id, user_id, role;
