/**
 * Partition lifecycle: keep every monthly partitioned table (the audit logs) provisioned ahead, and report
 * rows that fell into a DEFAULT partition. Platform operations on the owner connection, not as `app`:
 * creating partitions is DDL. Dropping or detaching old partitions is deliberately NOT automated (see
 * docs/dba.md).
 */
import { z } from "zod";
import { platformDomain } from "../db/operation";
import { many } from "../db/rows";
import type { IPartitionReportResult } from "./queries/partitions.queries";
import { sql } from "./sql";

const operation = platformDomain("core");

const monthsAhead = z.number().int().min(0).max(120).default(3);

/** Create missing partitions for every monthly partitioned table; returns every partition, new ones flagged. */
export const ensureAllPartitions = operation({
  name: "core.partitions.ensure_all",
  input: z.object({ monthsAhead }),
  kind: "write",
  affects: "platform",
  context: "platform",
  reveals: "nothing",
  audit: "none",
  run: (p, { c }) => many(sql.partitions.ensureAllMonthlyPartitions, p, c),
});

/** Create missing partitions for one table (schema-qualified name). */
export const ensurePartitions = operation({
  name: "core.partitions.ensure",
  input: z.object({ parent: z.string().regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/, "must be schema.table"), monthsAhead }),
  kind: "write",
  affects: "platform",
  context: "platform",
  reveals: "nothing",
  audit: "none",
  run: (p, { c }) => many(sql.partitions.ensureMonthlyPartitions, p, c),
});

export interface PartitionReport {
  partitions: IPartitionReportResult[];
  /** DEFAULT partitions that hold rows: data outside the provisioned months. */
  nonEmptyDefaults: IPartitionReportResult[];
}

/** Every partition with its row count, and the DEFAULT partitions that hold rows. */
export const reportPartitions = operation({
  name: "core.partitions.report",
  input: z.object({}),
  kind: "read",
  context: "platform",
  reveals: "nothing",
  audit: "none",
  oneStatement: true,
  async run(_p, { c }): Promise<PartitionReport> {
    const partitions = await many(sql.partitions.partitionReport, undefined, c);
    return { partitions, nonEmptyDefaults: partitions.filter((p) => p.is_default && Number(p.row_count) > 0) };
  },
});
