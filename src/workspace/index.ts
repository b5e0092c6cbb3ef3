/** The workspace domain (seed 003): its public operations, each called as `(db, ctx, input)`. */
export { type AuditRow, auditLog } from "./audit";
export { type WorkspaceContext, workspaceContext } from "./context";
export {
  addMembers,
  type Conversation,
  createConversation,
  markConversationRead,
  type Message,
  messagesOf,
  type NewConversation,
  type NewMessage,
  participantsOf,
  searchMessages,
  sendMessage,
  unreadCounts,
} from "./conversations";
export { activeDevices, deactivateDevice, type Device, markNotificationsRead, type Notification, notify, registerDevice, unreadNotifications } from "./devices";
export {
  createDocument,
  createTemplate,
  type Document,
  DOCUMENT_TRANSITIONS,
  type DocumentStatus,
  documentsOfUser,
  listTemplates,
  updateDocumentStatus,
} from "./documents";
export {
  calendarBetween,
  type CalendarRow,
  type ConnectInput,
  connectIntegration,
  type DriveRow,
  type GmailRow,
  type Integration,
  integrationTokens,
  markIntegrationSynced,
  type Provider,
  searchMail,
  setIntegrationState,
  type SyncResult,
  syncCalendarEvents,
  syncDriveFiles,
  syncGmailMessages,
} from "./integrations";
export { type Entity, type EntityInput, entityNeighbours, mentionsOf, observeEntity, recordMention, relateEntities } from "./knowledge";
export {
  createMemory,
  deleteMemory,
  EMBEDDING_DIMENSIONS,
  type EmbeddingUpdate,
  getMemory,
  keywordSearchMemories,
  type Memory,
  memoriesUsedBy,
  type NewMemory,
  recordMemoriesUsed,
  type SemanticHit,
  type SemanticQuery,
  semanticSearchMemories,
  setEmbedding,
} from "./memories";
export { createRole, grantRole, hasPermission, type Role, revokeRole, rolesOf } from "./rbac";
export { changeTaskStatus, createTask, type NewTask, type Task, type TaskStatus, tasksDueSoon, TRANSITIONS } from "./tasks";
export {
  createOrganization,
  createSession,
  createUser,
  deleteUser,
  endSession,
  findUserByEmail,
  getOrganization,
  getPreferences,
  getUser,
  type NewSession,
  type NewUser,
  type Organization,
  type Preferences,
  type PreferencesInput,
  purgeExpiredSessions,
  type RefreshedSession,
  refreshSession,
  resolveSession,
  updatePreferences,
  type User,
} from "./users";
