/**
 * Issue 7, item 6: crash safety. Our own PostgreSQL on a temporary data directory and a free port; a batch
 * writer commits transactions of 10 rows; the postmaster and all backends are SIGKILLed mid-batch; after a
 * restart, every batch whose COMMIT the client saw is complete, no batch is partial, and the doctor's
 * checks pass.
 */
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, expect, it } from "vitest";
import { doctor, formatReport } from "../../src/tools/doctor";
import { migrate } from "../../src/tools/migrate";
import { describeServer, SERVER_ONLY_REASON } from "../support/db";
import { OwnServer, serverBinDir } from "../support/own-server";

const bin = serverBinDir();
let server: OwnServer | undefined;
afterAll(async () => server?.destroy());

describeServer(`crash safety (server engine; ${SERVER_ONLY_REASON}; needs the PostgreSQL server binaries)`, () => {
  it.skipIf(!bin)("no committed transaction is lost and no partial one is visible after a SIGKILL", async () => {
    server = await OwnServer.create(bin as string);
    await migrate(server.url, { direction: "up" });
    const setup = new pg.Client(server.url);
    await setup.connect();
    await setup.query("CREATE TABLE public.crash_batches (batch int NOT NULL, n int NOT NULL, PRIMARY KEY (batch, n))");
    await setup.end();

    const committed: number[] = [];
    let stop = false;
    const writer = async (offset: number) => {
      const c = new pg.Client(server?.url);
      c.on("error", () => {});
      await c.connect();
      try {
        for (let b = offset; !stop; b += 4) {
          await c.query("BEGIN");
          for (let n = 0; n < 10; n++) await c.query("INSERT INTO public.crash_batches VALUES ($1, $2)", [b, n]);
          await c.query("COMMIT");
          committed.push(b);
        }
      } catch {
        // the server died under us: expected
      } finally {
        await c.end().catch(() => {});
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    while (committed.length < 200) await new Promise((r) => setTimeout(r, 20));
    await server.kill(); // mid-batch: four writers are always inside a transaction
    stop = true;
    await Promise.all(writers);

    await server.start(bin as string);
    // It really was a crash: the restart had to recover from the WAL.
    expect(fs.readFileSync(path.join(server.dir, "server.log"), "utf8")).toMatch(/not properly shut down|automatic recovery/);
    const pool = new pg.Pool({ connectionString: server.url, max: 2 });
    try {
      const { rows } = await pool.query<{ batch: number; rows: number }>("SELECT batch, count(*)::int AS rows FROM public.crash_batches GROUP BY batch");
      const present = new Map(rows.map((r) => [r.batch, r.rows]));
      expect(committed.filter((b) => present.get(b) !== 10)).toEqual([]); // nothing the client saw committed is lost
      expect(rows.filter((r) => r.rows !== 10)).toEqual([]); // no partial batch is visible
      expect(rows.length).toBeGreaterThanOrEqual(committed.length);
      console.log(`[crash] ${committed.length} batches acknowledged before SIGKILL, ${rows.length} present after recovery, 0 lost, 0 partial`);
      const { text, ok } = formatReport(await doctor(pool));
      expect(ok, text).toBe(true);
    } finally {
      await pool.end();
    }
  });
});
