/** The core domain's generated query modules (`make gen`), as namespaces, each query named for tracing (src/db/rows.ts). */
import { nameQueries } from "../db/rows";
import * as partitions from "./queries/partitions.queries";

export const sql = nameQueries("core", { partitions });
