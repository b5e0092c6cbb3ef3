/**
 * Seed 003's "Human Test", as written, after `SET search_path TO workspace`: list the tables, insert an
 * organisation and a user, select the user, join conversations with participants. Run through psql (the
 * seed's tool) when it is installed, and through the pg driver always.
 * - embedded run: against the database `make db` serves (the same CLI command, on a temporary data
 *   directory and a free port), as a developer would on a fresh machine;
 * - server run: against a freshly migrated database on the DATABASE_URL server.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/db/engine";
import { createTestEngine, engineKind } from "../support/db";
import { freePort } from "../support/own-server";
import { TABLES } from "./fixtures";

const psql = (() => {
  try {
    return execFileSync("sh", ["-c", "command -v psql"], { encoding: "utf8" }).trim() || null;
  } catch {
    return null;
  }
})();

/** The seed's script; `\gset` stands in for the human copying the returned id into the next statement. */
const SCRIPT = `SET search_path TO workspace;
\\dt
INSERT INTO organizations (name) VALUES ('Test Org') RETURNING id \\gset org_
INSERT INTO users (email, organization_id, created_at)
VALUES ('test@example.com', :'org_id', NOW());
SELECT * FROM users WHERE email = 'test@example.com';
SELECT * FROM conversations c
JOIN conversation_participants cp ON c.id = cp.conversation_id;
`;

let url: string;
let engine: Engine | undefined;
let served: ChildProcess | undefined;
let dataDir: string | undefined;

beforeAll(async () => {
  if (engineKind === "server") {
    engine = await createTestEngine();
    url = engine.url;
    return;
  }
  // Exactly what `make db` runs, on its own data directory and port.
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pgf-human-"));
  const port = await freePort();
  served = spawn(path.resolve("node_modules/.bin/tsx"), ["src/cli.ts", "db"], {
    env: { ...process.env, DATABASE_URL: "", PGLITE_DATA_DIR: path.join(dataDir, "db"), PGLITE_PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  served.stdout?.on("data", (d) => (out += d));
  served.stderr?.on("data", (d) => (out += d));
  const deadline = Date.now() + 120_000;
  while (!out.includes("Ctrl-C to stop")) {
    if (Date.now() > deadline || served.exitCode !== null) throw new Error(`make db did not come up:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  url = /psql '([^']+)'/.exec(out)?.[1] as string;
});

afterAll(async () => {
  await engine?.stop();
  if (served) {
    const exited = new Promise((r) => served?.once("exit", r));
    served.kill("SIGINT");
    await exited;
  }
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe(`the seed's Human Test (${engineKind === "server" ? "server database" : "make db"})`, () => {
  it.skipIf(!psql)("runs as written through psql", () => {
    const out = execFileSync(psql as string, ["-X", "-v", "ON_ERROR_STOP=1", url, "-f", "-"], { input: SCRIPT, encoding: "utf8" });
    for (const table of TABLES) expect(out).toMatch(new RegExp(`\\| ${table}\\s+\\| (partitioned )?table`));
    expect(out).toContain("INSERT 0 1");
    expect(out).toMatch(/test@example\.com[\s\S]*\(1 row\)/);
    expect(out).toMatch(/\(0 rows\)\s*$/);
  });

  it("runs through the pg driver, with working foreign keys", async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query("SET search_path TO workspace");
      const [org] = (await c.query("INSERT INTO organizations (name) VALUES ('Test Org 2') RETURNING id")).rows;
      await c.query("INSERT INTO users (email, organization_id, created_at) VALUES ('test2@example.com', $1, NOW())", [org.id]);
      const users = (await c.query("SELECT * FROM users WHERE email = 'test2@example.com'")).rows;
      expect(users).toHaveLength(1);
      expect(users[0]).toMatchObject({ email: "test2@example.com", organization_id: org.id, timezone: "UTC", is_active: true, is_verified: false });
      const { rows: joined } = await c.query("SELECT * FROM conversations c JOIN conversation_participants cp ON c.id = cp.conversation_id");
      expect(joined).toEqual([]);
      // "Foreign key constraints work correctly": a user in a missing organisation is refused.
      await expect(
        c.query("INSERT INTO users (email, organization_id) VALUES ('x@example.com', '00000000-0000-7000-8000-000000000000')"),
      ).rejects.toMatchObject({
        code: "23503",
      });
    } finally {
      await c.end();
    }
  });
});
