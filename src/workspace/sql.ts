/** The workspace domain's generated query modules (`make gen`), as namespaces, each query named for tracing (src/db/rows.ts). */
import { nameQueries } from "../db/rows";
import * as audit from "./queries/audit.queries";
import * as conversations from "./queries/conversations.queries";
import * as devices from "./queries/devices.queries";
import * as documents from "./queries/documents.queries";
import * as integrations from "./queries/integrations.queries";
import * as knowledge from "./queries/knowledge.queries";
import * as memories from "./queries/memories.queries";
import * as organizations from "./queries/organizations.queries";
import * as rbac from "./queries/rbac.queries";
import * as tasks from "./queries/tasks.queries";

export const sql = nameQueries("workspace", { audit, conversations, devices, documents, integrations, knowledge, memories, organizations, rbac, tasks });
