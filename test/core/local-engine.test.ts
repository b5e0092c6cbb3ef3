import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { openLocalEmbedded } from "../../src/db/connect";
import { ValidationError } from "../../src/db/errors";
import { newMigration } from "../../src/tools/migrate";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pgf-local-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("embedded database on disk (.data/)", () => {
  it("persists across opens, and a second opener joins the first instead of opening the files", async () => {
    const dir = path.join(tmp, "pglite");
    const first = await openLocalEmbedded(dir);
    const lock = JSON.parse(fs.readFileSync(`${dir}.lock`, "utf8"));
    expect(lock).toEqual({ pid: process.pid, url: first.url });

    const second = await openLocalEmbedded(dir);
    expect(second.url).toBe(first.url);
    const c = new pg.Client(second.url);
    await c.connect();
    await c.query("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')");
    await c.end();
    await second.stop(); // a joiner's stop leaves the owner running
    expect(fs.existsSync(`${dir}.lock`)).toBe(true);
    await first.stop();
    expect(fs.existsSync(`${dir}.lock`)).toBe(false);

    const reopened = await openLocalEmbedded(dir);
    const c2 = new pg.Client(reopened.url);
    await c2.connect();
    expect((await c2.query("SELECT v FROM kept")).rows).toEqual([{ v: "still here" }]);
    await c2.end();
    await reopened.stop();
  }, 60_000);

  it("takes over a lock left by a dead process", async () => {
    const dir = path.join(tmp, "stale");
    fs.writeFileSync(`${dir}.lock`, JSON.stringify({ pid: 2 ** 22 + 12345, url: "postgres://127.0.0.1:1/x" }));
    const e = await openLocalEmbedded(dir);
    expect(e.url).not.toBe("postgres://127.0.0.1:1/x");
    await e.stop();
  }, 60_000);
});

describe("make migration", () => {
  it("creates a timestamped file from the template with header, Up and Down sections", () => {
    const file = newMigration("add_widgets", tmp);
    expect(path.basename(file)).toMatch(/^\d{17}_add_widgets\.sql$/);
    const sql = fs.readFileSync(file, "utf8");
    expect(sql).toMatch(/^-- Migration: add widgets/);
    expect(sql.indexOf("-- Up Migration")).toBeLessThan(sql.indexOf("-- Down Migration"));
  });

  it.each(["", "Add-Widgets", "x", "drop table; --"])("refuses the name %j", (name) => {
    expect(() => newMigration(name, tmp)).toThrow(ValidationError);
  });
});
