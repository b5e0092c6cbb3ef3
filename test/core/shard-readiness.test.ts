/**
 * Scale-out readiness (src/tools/shard-readiness.ts, docs/scale-out.md): every table has a planned Citus role,
 * today's known breakages are reported by name, each rule fails and passes on probe tables (created in a
 * transaction that is rolled back, checked against a probe plan), and the summary is the per-rule lists counted.
 */
import { describe, expect, it } from "vitest";
import { SHARD_PLAN, SHARD_RULES, type RuleId, type ShardPlan, type ShardReport, shardReadiness, shardReport } from "../../src/tools/shard-readiness";
import { useTestDb } from "../support/db";

const t = useTestDb();

const byRule = (report: ShardReport) =>
  Object.fromEntries(
    (Object.keys(SHARD_RULES) as RuleId[]).map((rule) => [rule, report.results.find((r) => r.name === SHARD_RULES[rule].name)?.problems ?? []]),
  ) as Record<RuleId, string[]>;

/** The summary must be the per-rule lists counted, whatever today's schema holds. */
function expectSummaryMatches(report: ShardReport) {
  const lists = byRule(report);
  const blocked = new Set<string>();
  for (const rule of Object.keys(SHARD_RULES) as RuleId[]) {
    const counted = SHARD_RULES[rule].level === "blocking" ? report.summary.breaking[rule] : report.summary.warnings[rule];
    expect(counted, rule).toBe(lists[rule].length);
    expect(report.summary.tablesByRule[rule], rule).toBe(new Set(report.findings.filter((f) => f.rule === rule).map((f) => f.table)).size);
    if (SHARD_RULES[rule].level === "blocking") for (const f of report.findings.filter((x) => x.rule === rule)) blocked.add(f.table);
  }
  const unplanned = report.findings.filter((f) => f.rule === "plan" && f.detail.startsWith("not in the plan")).length;
  const blockedTables = [...blocked].filter(
    (name) => !report.findings.some((f) => f.table === name && f.detail.startsWith("in the plan but not in the database")),
  );
  expect(report.summary.ready).toBe(report.summary.tables - blockedTables.length);
  expect(report.summary.ready).toBeLessThanOrEqual(report.summary.tables - unplanned);
}

describe("the scale-out plan of today's schema", () => {
  it("plans every table of ours (partitions excluded), each with a reason, and only tables that exist", async () => {
    const report = await shardReport(t.db.pool);
    expect(byRule(report).plan).toEqual([]);
    const { rows } = await t.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('core', 'screening', 'workspace', 'wills') AND c.relkind IN ('r', 'p') AND NOT c.relispartition`,
    );
    expect(report.summary.tables).toBe(rows[0]?.n);
    expect(Object.keys(SHARD_PLAN)).toHaveLength(report.summary.tables);
    for (const [table, entry] of Object.entries(SHARD_PLAN)) {
      expect(entry.why.length, table).toBeGreaterThan(10);
      if (entry.role === "distributed") expect(entry.colocate, table).not.toBe("");
    }
  });

  it("reports the known breakages by name", async () => {
    const lists = byRule(await shardReport(t.db.pool));
    // A workspace table whose primary key lacks organization_id, and a unique index on an expression.
    expect(lists.keys).toContain("workspace.users: primary key users_pkey (id) lacks organization_id");
    expect(lists.keys).toContain("workspace.users: unique index idx_users_email (lower(email)) lacks organization_id");
    // A user-private table without organization_id at all, and its key to users that cannot hold.
    expect(lists["distribution-column"]).toContainEqual(expect.stringMatching(/^workspace\.sessions: no column organization_id/));
    expect(lists["foreign-keys"]).toContainEqual(
      expect.stringMatching(/^workspace\.sessions: sessions_user_id_fkey \(user_id\) -> workspace\.users \(id\): does not pair organization_id/),
    );
    // A policy with a subquery, and one calling current_user_id(), which reads workspace.users.
    expect(lists.policies).toContain("screening.entities: policy linked_tenant has a subquery");
    expect(lists.policies).toContainEqual(
      expect.stringMatching(/^workspace\.memories: policy own_rows .*calls workspace\.current_user_id\(\), which reads a table/),
    );
    // The composite set-null key, and a column-level grant.
    expect(lists["set-null"]).toContainEqual(
      expect.stringMatching(/^screening\.entity_relations: entity_relations_discovered_in_screening_fkey .*ON DELETE SET NULL/),
    );
    expect(lists["column-grants"]).toContainEqual(expect.stringMatching(/^workspace\.users: column-level privileges on .*password_hash/));
    // Row triggers are warnings; touch_updated_at only touches NEW.
    expect(lists.triggers).toContain("workspace.users: row trigger touch_updated_at (core.touch_updated_at) needs citus.enable_unsafe_triggers");
    expect(lists["trigger-reads"]).not.toContainEqual(expect.stringContaining("touch_updated_at"));
  });

  it("summarises as the per-rule lists counted", async () => {
    const report = await shardReport(t.db.pool);
    expectSummaryMatches(report);
    expect(await shardReadiness(t.db.pool)).toEqual(report.results);
  });
});

const PROBE_PLAN: ShardPlan = {
  "probe.orgs": { role: "reference", why: "probe: the tenant vocabulary" },
  "probe.accounts": { role: "distributed", by: "org", colocate: "A", why: "probe: fully ready" },
  "probe.bad_keys": { role: "distributed", by: "org", colocate: "A", why: "probe: breaks keys, policies, triggers, grants" },
  "probe.notes": { role: "distributed", by: "org", colocate: "A", why: "probe: nullable org, keys to check" },
  "probe.untenanted": { role: "distributed", by: "org", colocate: "A", why: "probe: lacks its distribution column" },
  "probe.text_orgs": { role: "distributed", by: "org", colocate: "A", why: "probe: a different type in the group" },
  "probe.regions": { role: "distributed", by: "region", colocate: "B", why: "probe: another co-location group" },
  "probe.cross_refs": { role: "distributed", by: "org", colocate: "A", why: "probe: a key across groups" },
  "probe.to_local": { role: "distributed", by: "org", colocate: "A", why: "probe: a key to a local table" },
  "probe.ref_bad": { role: "reference", why: "probe: a reference table referencing a distributed one" },
  "probe.ref_parts": { role: "reference", why: "probe: partitioned, so it cannot be a reference table" },
  "probe.local_log": { role: "local", why: "probe: local, referencing a distributed table" },
  "probe.ghost": { role: "local", why: "probe: planned, never created" },
};

const PROBE_DDL = `
  CREATE SCHEMA probe;
  CREATE TABLE probe.orgs (id uuid PRIMARY KEY, slug text UNIQUE);
  CREATE TABLE probe.accounts (
    org uuid NOT NULL CONSTRAINT accounts_org_fkey REFERENCES probe.orgs (id) ON DELETE CASCADE,
    id uuid NOT NULL, email text NOT NULL, n bigserial,
    PRIMARY KEY (org, id), UNIQUE (org, email));
  CREATE TABLE probe.bad_keys (org uuid NOT NULL, id uuid PRIMARY KEY, email text, code int GENERATED BY DEFAULT AS IDENTITY);
  CREATE UNIQUE INDEX bad_keys_email ON probe.bad_keys (lower(email));
  CREATE UNIQUE INDEX bad_keys_org_email ON probe.bad_keys (org, email);
  CREATE TABLE probe.notes (
    org uuid CONSTRAINT notes_org_fkey REFERENCES probe.orgs (id) ON DELETE SET NULL,
    id uuid NOT NULL, account_id uuid, author uuid,
    ref_org uuid CONSTRAINT notes_ref_org_fkey REFERENCES probe.orgs (id) ON DELETE SET NULL,
    UNIQUE (org, id),
    CONSTRAINT notes_account_fkey FOREIGN KEY (org, account_id) REFERENCES probe.accounts (org, id) ON DELETE CASCADE,
    CONSTRAINT notes_author_fkey FOREIGN KEY (org, author) REFERENCES probe.accounts (org, id) ON DELETE SET NULL (author),
    CONSTRAINT notes_bad_fkey FOREIGN KEY (account_id) REFERENCES probe.bad_keys (id) ON DELETE CASCADE);
  CREATE TABLE probe.untenanted (id uuid);
  CREATE TABLE probe.text_orgs (org text NOT NULL PRIMARY KEY);
  CREATE TABLE probe.regions (region text NOT NULL, id uuid NOT NULL, PRIMARY KEY (region, id));
  CREATE TABLE probe.cross_refs (org uuid NOT NULL PRIMARY KEY, region text, rid uuid,
    CONSTRAINT cross_refs_region_fkey FOREIGN KEY (region, rid) REFERENCES probe.regions (region, id) ON DELETE CASCADE);
  CREATE TABLE probe.local_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text,
    org uuid CONSTRAINT local_log_org_fkey REFERENCES probe.orgs (id) ON DELETE CASCADE,
    acc_org uuid, acc_id uuid,
    CONSTRAINT local_log_acc_fkey FOREIGN KEY (acc_org, acc_id) REFERENCES probe.accounts (org, id) ON DELETE CASCADE);
  CREATE TABLE probe.to_local (org uuid NOT NULL PRIMARY KEY,
    log_id bigint CONSTRAINT to_local_log_fkey REFERENCES probe.local_log (id) ON DELETE CASCADE);
  CREATE TABLE probe.ref_bad (id uuid PRIMARY KEY, org uuid, acc uuid,
    CONSTRAINT ref_bad_acc_fkey FOREIGN KEY (org, acc) REFERENCES probe.accounts (org, id) ON DELETE CASCADE);
  CREATE TABLE probe.ref_parts (at timestamptz NOT NULL) PARTITION BY RANGE (at);
  CREATE TABLE probe.unplanned (id uuid PRIMARY KEY);

  -- Policies: a plain predicate and a function that reads nothing pass; a subquery and a function that reads a
  -- table (through another function; the comment and DISTINCT FROM are not reads) fail; local tables are not checked.
  CREATE FUNCTION probe.pure() RETURNS uuid LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;
  CREATE FUNCTION probe.same(a uuid) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT NOT (a IS DISTINCT FROM a) $$;
  CREATE FUNCTION probe.reads() RETURNS uuid LANGUAGE plpgsql STABLE AS $$
  BEGIN
    RETURN (SELECT o.id FROM probe.orgs o LIMIT 1);
  END $$;
  CREATE FUNCTION probe.wraps() RETURNS uuid LANGUAGE plpgsql STABLE AS $$
  BEGIN
    -- a comment from nowhere; 'a string FROM nowhere'
    RETURN probe.reads();
  END $$;
  ALTER TABLE probe.accounts ENABLE ROW LEVEL SECURITY;
  CREATE POLICY pure ON probe.accounts USING (org = probe.pure() AND probe.same(id));
  ALTER TABLE probe.bad_keys ENABLE ROW LEVEL SECURITY;
  CREATE POLICY sub ON probe.bad_keys USING (EXISTS (SELECT FROM probe.orgs o WHERE o.id = org));
  CREATE POLICY wrapped ON probe.bad_keys USING (org = probe.wraps());
  ALTER TABLE probe.local_log ENABLE ROW LEVEL SECURITY;
  CREATE POLICY on_local ON probe.local_log USING (EXISTS (SELECT FROM probe.orgs));

  -- Triggers: every one on a Citus table is a warning; one whose function reads a table also breaks.
  CREATE FUNCTION probe.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.email := lower(NEW.email); RETURN NEW; END $$;
  CREATE FUNCTION probe.guard() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF NOT EXISTS (SELECT FROM probe.orgs o WHERE o.id = NEW.org) THEN RAISE EXCEPTION 'no org'; END IF;
    RETURN NEW;
  END $$;
  CREATE TRIGGER touch BEFORE UPDATE ON probe.accounts FOR EACH ROW EXECUTE FUNCTION probe.touch();
  CREATE TRIGGER guard BEFORE INSERT ON probe.bad_keys FOR EACH ROW EXECUTE FUNCTION probe.guard();
  CREATE TRIGGER no_truncate BEFORE TRUNCATE ON probe.bad_keys FOR EACH STATEMENT EXECUTE FUNCTION probe.touch();
  CREATE TRIGGER guard BEFORE INSERT ON probe.local_log FOR EACH ROW EXECUTE FUNCTION probe.guard();

  -- Column-level privileges: on Citus tables (distributed or reference) they break; table-level ones and local tables do not.
  GRANT SELECT ON probe.accounts TO app;
  GRANT UPDATE (email) ON probe.bad_keys TO app;
  GRANT UPDATE (acc) ON probe.ref_bad TO app;
  GRANT UPDATE (note) ON probe.local_log TO app;
`;

const PROBE_EXPECTED: Record<RuleId, string[]> = {
  plan: [
    "probe.ghost: in the plan but not in the database: remove it from SHARD_PLAN",
    "probe.ref_parts: planned as reference but partitioned: Citus reference tables cannot be partitioned",
    "probe.unplanned: not in the plan: give it a role in SHARD_PLAN (src/tools/shard-readiness.ts)",
  ],
  keys: ["probe.bad_keys: primary key bad_keys_pkey (id) lacks org", "probe.bad_keys: unique index bad_keys_email (lower(email)) lacks org"],
  "foreign-keys": [
    "probe.cross_refs: cross_refs_region_fkey (region, rid) -> probe.regions (region, id): not co-located (A and B groups)",
    "probe.local_log: local_log_acc_fkey (acc_org, acc_id) -> probe.accounts (org, id): a local table cannot reference a distributed one",
    "probe.notes: notes_bad_fkey (account_id) -> probe.bad_keys (id): does not pair org with probe.bad_keys.org",
    "probe.ref_bad: ref_bad_acc_fkey (org, acc) -> probe.accounts (org, id): a reference table references only reference tables",
    "probe.to_local: to_local_log_fkey (log_id) -> probe.local_log (id): a distributed table cannot reference a local one",
  ],
  policies: ["probe.bad_keys: policy sub has a subquery", "probe.bad_keys: policy wrapped calls probe.wraps(), which reads a table"],
  "trigger-reads": ["probe.bad_keys: trigger guard: probe.guard() reads a table"],
  triggers: [
    "probe.accounts: row trigger touch (probe.touch) needs citus.enable_unsafe_triggers",
    "probe.bad_keys: row trigger guard (probe.guard) needs citus.enable_unsafe_triggers",
    "probe.bad_keys: statement trigger no_truncate (probe.touch): Citus propagates row triggers to shards; check on a cluster that this one still fires",
  ],
  "column-grants": ["probe.bad_keys: column-level privileges on email", "probe.ref_bad: column-level privileges on acc"],
  "distribution-column": [
    "probe.notes: org is nullable: Citus refuses a row whose distribution column is null",
    "probe.text_orgs: org is text, but probe.accounts (same A group) uses uuid",
    "probe.untenanted: no column org: every row must carry it to be placed with the rest of its A group",
  ],
  "set-null": [
    "probe.notes: notes_author_fkey (org, author) -> probe.accounts (org, id): ON DELETE SET NULL, refused once the key carries org",
    "probe.notes: notes_org_fkey (org) -> probe.orgs (id): ON DELETE SET NULL, refused once the key carries org",
  ],
  sequences: [
    "probe.accounts: n (bigint) draws from a sequence: fine, each node draws from its own range",
    "probe.bad_keys: code (integer) draws from a sequence: only the coordinator can draw it; make it bigint",
  ],
};

describe("each rule fails and passes (probe tables, probe plan, rolled back)", () => {
  it("reports exactly the probes that break a rule, and counts them", async () => {
    const c = await t.db.pool.connect();
    try {
      await c.query("BEGIN");
      await c.query(PROBE_DDL);
      const report = await shardReport(c, { plan: PROBE_PLAN, schemas: ["probe"] });
      const lists = byRule(report);
      for (const rule of Object.keys(SHARD_RULES) as RuleId[]) expect([...lists[rule]].sort(), rule).toEqual([...PROBE_EXPECTED[rule]].sort());
      // accounts (warnings only), orgs and regions are ready; the rest break something or are unplanned.
      expect(report.summary).toMatchObject({ tables: 13, ready: 3 });
      expectSummaryMatches(report);

      // The same tables under another plan: local tables are not held to the Citus rules.
      const allLocal = Object.fromEntries(Object.keys(PROBE_PLAN).map((k) => [k, { role: "local" as const, why: "probe: all local" }]));
      const local = await shardReport(c, { plan: { ...allLocal, "probe.unplanned": { role: "local", why: "probe: now planned" } }, schemas: ["probe"] });
      expect(local.findings.filter((f) => f.rule !== "plan")).toEqual([]);
      expect(byRule(local).plan).toEqual(["probe.ghost: in the plan but not in the database: remove it from SHARD_PLAN"]);
      expect(local.summary).toMatchObject({ tables: 13, ready: 13 });
    } finally {
      await c.query("ROLLBACK");
      c.release();
    }
    expect((await t.db.pool.query("SELECT to_regnamespace('probe') AS s")).rows[0].s).toBeNull();
  });
});
