/** The screening domain's generated query modules (`make gen`), as namespaces, each query named for tracing (src/db/rows.ts). */
import { nameQueries } from "../db/rows";
import * as audit from "./queries/audit.queries";
import * as bulk from "./queries/bulk.queries";
import * as cache from "./queries/cache.queries";
import * as entities from "./queries/entities.queries";
import * as profiles from "./queries/profiles.queries";
import * as relations from "./queries/relations.queries";
import * as tenants from "./queries/tenants.queries";

export const sql = nameQueries("screening", { audit, bulk, cache, entities, profiles, relations, tenants });
