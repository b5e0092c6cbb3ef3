/**
 * The README's worked example, kept true: its migration applies and reverts on a real database, its query is
 * the one in queries/, its operation is the one in src/, and its call runs (the call below is the README's
 * block, compiled by tsc like every test).
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { platformContext, workspace } from "../../src";
import { useTestDb } from "../support/db";

const ROOT = path.resolve(import.meta.dirname, "../..");
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), "utf8");
const blocks = (lang: string) => [...read("README.md").matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => (m[1] as string).trimEnd());
const one = (lang: string, has: string) => {
  const found = blocks(lang).filter((b) => b.includes(has));
  expect(found, `one \`\`\`${lang} block of README.md containing ${has}`).toHaveLength(1);
  return found[0] as string;
};
/** The text between `// README:<name>` and `// README:end` in a file. */
const region = (file: string, name: string) => {
  const m = new RegExp(`// README:${name}\\n([\\s\\S]*?)\\n\\s*// README:end`).exec(read(file));
  expect(m, `${file} has a README:${name} region`).not.toBeNull();
  const lines = (m?.[1] as string).split("\n");
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => (/^ */.exec(l) as RegExpExecArray)[0].length));
  return lines
    .map((l) => l.slice(indent))
    .join("\n")
    .trimEnd();
};

const t = useTestDb();

describe("README worked example", () => {
  it("the migration applies, makes an RLS-protected table and reverts", async () => {
    const sql = one("sql", "-- Up Migration");
    const [up, down] = sql.split("-- Down Migration") as [string, string];
    const c = await t.db.pool.connect();
    try {
      await c.query("BEGIN");
      await c.query(up);
      const { rows } = await c.query(
        "SELECT relrowsecurity AND relforcerowsecurity AS rls, obj_description(oid) AS comment FROM pg_class WHERE oid = 'screening.notes'::regclass",
      );
      expect(rows[0]).toEqual({ rls: true, comment: "Free-text notes a tenant keeps on a screening." });
      await c.query(down);
      expect((await c.query("SELECT to_regclass('screening.notes') AS t")).rows[0].t).toBeNull();
    } finally {
      await c.query("ROLLBACK");
      c.release();
    }
  });

  it("the query is the one in its file", () => {
    expect(read("queries/workspace/organizations.sql")).toContain(one("sql", "@name GetOrganization"));
  });

  it("the operation is the one in its module", () => {
    expect(one("ts", "export const getOrganization")).toBe(region("src/workspace/users.ts", "getOrganization"));
  });

  it("the call runs as written", async () => {
    const org = await workspace.createOrganization(t.db, platformContext(), { name: "Readme Ltd", owner: { email: `readme.${Date.now()}@example.com` } });
    const organizationId = org.id;
    const userId = null;
    const connectToTestDb = () => Promise.resolve(t.db);
    const run = async (connect: () => Promise<typeof t.db>) => {
      // README:usage
      const db = await connect();
      const ctx = workspace.workspaceContext({ organizationId, userId });
      const org = await workspace.getOrganization(db, ctx);
      // README:end
      return org;
    };
    expect(one("ts", "workspace.getOrganization(db, ctx)")).toBe(region("test/core/readme.test.ts", "usage"));
    expect(await run(connectToTestDb)).toMatchObject({ id: org.id, name: "Readme Ltd" });
  });
});
