import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogDump } from "../support/catalog";
import type { Engine } from "../../src/db/engine";
import { migrate } from "../../src/tools/migrate";
import { createTestEngine } from "../support/db";

describe("migrations", () => {
  let engine: Engine;
  let pool: pg.Pool;
  beforeAll(async () => {
    engine = await createTestEngine({ empty: true });
    pool = new pg.Pool({ connectionString: engine.url, max: 2 });
  });
  afterAll(async () => {
    await pool?.end();
    await engine?.stop();
  });

  it("go up, down to zero and up again, leaving the catalog identical each way", async () => {
    const empty = await catalogDump(pool);

    const up = await migrate(engine.url, { direction: "up" });
    expect(up.length).toBeGreaterThan(0);
    const migrated = await catalogDump(pool);
    expect(migrated).not.toEqual(empty);
    expect(migrated).toContain(
      "schema: core acl={postgres=UC/postgres,app=U/postgres} comment=Shared functions used by every domain schema: UUIDv7 keys, updated_at trigger, append-only guard, monthly partition management.",
    );

    // Nothing pending: a second run applies nothing.
    expect(await migrate(engine.url, { direction: "up" })).toEqual([]);

    const down = await migrate(engine.url, { direction: "down", count: Number.POSITIVE_INFINITY });
    expect(down).toEqual([...up].reverse());
    expect(await catalogDump(pool)).toEqual(empty);

    expect(await migrate(engine.url, { direction: "up" })).toEqual(up);
    expect(await catalogDump(pool)).toEqual(migrated);
  });

  it("every migration file has a header comment and both sections", async () => {
    const fs = await import("node:fs");
    const path = await import("node:path");
    const { MIGRATIONS_DIR } = await import("../../src/tools/migrate");
    const files = fs.readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith(".sql"));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      expect(f).toMatch(/^\d{17}_[a-z0-9_]+\.sql$/);
      const sql = fs.readFileSync(path.join(MIGRATIONS_DIR, f), "utf8");
      expect(sql.startsWith("-- "), `${f} starts with a header comment`).toBe(true);
      const up = sql.indexOf("-- Up Migration");
      const down = sql.indexOf("-- Down Migration");
      expect(up, `${f} has -- Up Migration`).toBeGreaterThan(0);
      expect(down, `${f} has -- Down Migration after Up`).toBeGreaterThan(up);
      expect(sql.slice(down).replace(/--.*$/gm, "").trim().length, `${f} Down section is not empty`).toBeGreaterThan(0);
    }
  });
});
