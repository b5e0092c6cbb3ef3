-- Migration: workspace.memories keeps room on its pages for HOT updates (fillfactor 80).
--
-- What: every semantic or keyword search moves accessed_at of the memories it returns (issue 15). A row
--   update that finds no free space on its page is not HOT: it writes a new index entry into every index of
--   the table, here including the HNSW index idx_memories_embedding, whose inserts cost about a millisecond
--   each at 20,000 x 1536. Rows are small (the embedding is TOASTed), so 20% free space per page keeps
--   those updates HOT (no index touched).
-- Why: measured in `make bench` workload 6 (20,000 x 1536, 100 queries, ef_search 40): with the default
--   fillfactor 338 of 590 accessed_at updates were not HOT and a service search took 24.0 ms (4.9x the raw
--   pgvector query); with fillfactor 80, 710 of 710 were HOT and it took 8.5 ms (1.8x).
-- Safety: a reloption only (SHARE UPDATE EXCLUSIVE for an instant); it applies to pages written from now
--   on. For an existing large table a DBA rewrites it when convenient (pg_repack, or VACUUM FULL in a
--   maintenance window) to give the old pages their free space. Down restores the default.

-- Up Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE workspace.memories SET (fillfactor = 80);

-- Down Migration
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE workspace.memories RESET (fillfactor);
