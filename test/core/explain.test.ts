/**
 * Plan regression check: with tens of thousands of rows seeded, no named query may sequentially scan a
 * table above 5,000 rows unless its SQL says why (`-- explain: seq-scan-ok <why>`).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { explainAll, formatPlanLine, type PlanLine, SEQ_SCAN_ANNOTATION, seedVolume } from "../../src/tools/explain";
import { useTestDb } from "../support/db";

const t = useTestDb();
let lines: PlanLine[];

beforeAll(async () => {
  await seedVolume(t.db.pool, 0.5); // 10,000 entities, 20,000 profiles and audit rows
  lines = await explainAll(t.db.pool);
}, 180_000);

describe("query plans on seeded volume", () => {
  it("every named query plans without error", () => {
    expect(lines.length).toBeGreaterThan(40);
    expect(lines.filter((l) => l.error).map(formatPlanLine)).toEqual([]);
  });

  it("no query sequentially scans a large table without saying why", () => {
    expect(lines.filter((l) => l.violations.length).map(formatPlanLine)).toEqual([]);
  });

  it("the check sees sequential scans: the annotated freshness sweep does one", () => {
    const sweep = lines.find((l) => l.query === "sweepFreshness");
    expect(sweep?.scans).toContain("Seq Scan cached_data_sources");
    expect(sweep?.violations).toEqual([]);
  });

  it("the seeds' indexed lookups use their indexes, and audit ranges prune to one partition", () => {
    const idx = (q: string) => lines.find((l) => l.query === q)?.indexes ?? [];
    expect(idx("profileByVersion")).toContain("idx_profile_version");
    expect(idx("cacheForCheck")).toContain("idx_cache_entity_check");
    expect(idx("bestCacheEntry")).toContain("idx_cache_entity_check");
    expect(idx("purgeTenantCache")).toContain("idx_cache_stale_until");
    expect(idx("entityById")).toContain("entities_pkey");
    const audit = lines.find((l) => l.query === "auditEventsInRange");
    expect(new Set(audit?.scans.map((s) => s.split(" ").at(-1)))).toEqual(new Set([expect.stringMatching(/^audit_events_p\d{4}_\d{2}$/)]));
    expect(SEQ_SCAN_ANNOTATION.test("-- explain: seq-scan-ok because")).toBe(true);
  });
});
