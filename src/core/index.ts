/** Shared platform operations (partition lifecycle). */
export { ensureAllPartitions, ensurePartitions, type PartitionReport, reportPartitions } from "./partitions";
