/* Partition maintenance for every monthly RANGE-partitioned table (the audit logs of all domains).
   Used by `make partitions` and the doctor. These run as the migration owner: the application role
   `app` has no EXECUTE on the core partition functions. */

/* @name EnsureAllMonthlyPartitions */
-- Create missing partitions for the current month and monthsAhead more (plus DEFAULT) on every
-- monthly partitioned table. Idempotent: existing partitions come back with created = false.
SELECT parent AS "parent!", partition_name AS "partition_name!", range_start, range_end, created AS "created!"
  FROM core.ensure_all_monthly_partitions(:monthsAhead!::integer);

/* @name EnsureMonthlyPartitions */
-- The same for one table, named schema-qualified (e.g. 'wills.audit_logs').
SELECT partition_name AS "partition_name!", range_start, range_end, created AS "created!"
  FROM core.ensure_monthly_partitions(:parent!::text::regclass, :monthsAhead!::integer);

/* @name PartitionReport */
-- Every partition with its bound and exact row count; rows in a DEFAULT partition need a DBA's look.
SELECT parent AS "parent!", partition_name AS "partition_name!", bound AS "bound!",
       is_default AS "is_default!", row_count AS "row_count!"
  FROM core.partition_report();
