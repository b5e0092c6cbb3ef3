/** The wills domain's generated query modules (`make gen`), as namespaces, each query named for tracing (src/db/rows.ts). */
import { nameQueries } from "../db/rows";
import * as audit from "./queries/audit.queries";
import * as clauses from "./queries/clauses.queries";
import * as consent from "./queries/consent.queries";

export const sql = nameQueries("wills", { audit, clauses, consent });
