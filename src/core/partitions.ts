/**
 * Partition lifecycle: keep every monthly partitioned table (the audit logs) provisioned ahead, and report
 * rows that fell into a DEFAULT partition. Runs as the connecting (owner) role, not as `app`: creating
 * partitions is DDL. Dropping or detaching old partitions is deliberately NOT automated (see README).
 */
import { z } from "zod";
import type { Db } from "../db/connect";
import { parseInput } from "../db/validate";
import {
  ensureAllMonthlyPartitions,
  ensureMonthlyPartitions,
  type IEnsureAllMonthlyPartitionsResult,
  type IEnsureMonthlyPartitionsResult,
  type IPartitionReportResult,
  partitionReport,
} from "./queries/partitions.queries";

const monthsAhead = z.number().int().min(0).max(120);

/** Create missing partitions for every monthly partitioned table; returns every partition, new ones flagged. */
export async function ensureAllPartitions(db: Db, ahead = 3): Promise<IEnsureAllMonthlyPartitionsResult[]> {
  const n = parseInput(monthsAhead, ahead, "monthsAhead");
  return db.transaction((c) => ensureAllMonthlyPartitions.run({ monthsAhead: n }, c));
}

/** Create missing partitions for one table (schema-qualified name). */
export async function ensurePartitions(db: Db, parent: string, ahead = 3): Promise<IEnsureMonthlyPartitionsResult[]> {
  const p = parseInput(
    z.object({ parent: z.string().regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/, "must be schema.table"), ahead: monthsAhead }),
    { parent, ahead },
    "partition request",
  );
  return db.transaction((c) => ensureMonthlyPartitions.run({ parent: p.parent, monthsAhead: p.ahead }, c));
}

export interface PartitionReport {
  partitions: IPartitionReportResult[];
  /** DEFAULT partitions that hold rows: data outside the provisioned months. */
  nonEmptyDefaults: IPartitionReportResult[];
}

export async function reportPartitions(db: Db): Promise<PartitionReport> {
  const partitions = await db.transaction((c) => partitionReport.run(undefined, c), { readOnly: true });
  return { partitions, nonEmptyDefaults: partitions.filter((p) => p.is_default && Number(p.row_count) > 0) };
}
