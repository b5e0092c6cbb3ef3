/**
 * Concurrent re-syncs (server engine: real concurrent sessions). Two or more sync jobs for the same
 * integration racing with overlapping batches must leave exactly one row per provider key, with no error:
 * ON CONFLICT makes the upserts idempotent, and sorting each batch by key makes their row locks come in
 * the same order, so they cannot deadlock. Batches that carry tombstones (provider ids deleted at the
 * provider) race the same way and end in the state one of them alone leaves.
 */
import { beforeAll, expect, it } from "vitest";
import * as ws from "../../src/workspace";
import { describeServer, SERVER_ONLY_REASON, useTestDb } from "../support/db";
import { makeOrg, type Org } from "./fixtures";

const t = useTestDb();
let org: Org;
beforeAll(async () => {
  org = await makeOrg(t.db, 1, "sync");
});

describeServer(`concurrent re-sync upserts (${SERVER_ONLY_REASON})`, () => {
  it("8 concurrent syncs x 10 rounds of overlapping, shuffled batches: one row per key, 0 errors, latest wins", async () => {
    const ctx = org.as(0);
    const integration = await ws.connectIntegration(t.db, ctx, { provider: "google", accessToken: "t" });
    const keys = 400;
    let errors = 0;
    for (let round = 0; round < 10; round++) {
      const jobs = Array.from({ length: 8 }, (_, j) => {
        // Each job covers a different, overlapping half of the keys, in its own random order.
        const rows = Array.from({ length: keys / 2 }, (_, i) => ({ gmail_id: `m${(i + j * 25) % keys}`, subject: `round ${round}` })).sort(
          () => Math.random() - 0.5,
        );
        return ws.syncGmailMessages(t.db, ctx, { integrationId: integration.id, rows }).catch(() => {
          errors++;
        });
      });
      await Promise.all(jobs);
    }
    expect(errors).toBe(0);
    const { rows } = await t.db.pool.query(
      "SELECT count(*)::int AS n, count(DISTINCT gmail_id)::int AS keys, count(*) FILTER (WHERE subject <> 'round 9')::int AS stale FROM workspace.gmail_messages",
    );
    // 8 jobs x 200 keys with offsets 0..175 cover m0..m374.
    expect(rows[0]).toEqual({ n: 375, keys: 375, stale: 0 });
  });

  it("8 concurrent re-syncs x 5 rounds of the same batch with tombstones: 0 errors, the state one of them alone leaves", async () => {
    const ctx = org.as(0);
    const integration = await ws.connectIntegration(t.db, ctx, { provider: "microsoft", accessToken: "t" });
    const at = (h: number) => new Date(Date.UTC(2031, 0, 1, h));
    const live = (n: number) => Array.from({ length: n }, (_, i) => ({ provider_event_id: `e${i}`, title: "live", start_time: at(1), end_time: at(2) }));
    await ws.syncCalendarEvents(t.db, ctx, { integrationId: integration.id, rows: live(300) });
    let errors = 0;
    for (let round = 0; round < 5; round++) {
      // Every job sends the same batch (as a retried delivery would), shuffled: 100 keys updated, every third deleted.
      const jobs = Array.from({ length: 8 }, () => {
        const rows = live(100)
          .map((r) => ({ ...r, title: `round ${round}` }))
          .sort(() => Math.random() - 0.5);
        const deleted = Array.from({ length: 100 }, (_, i) => `e${i * 3}`).sort(() => Math.random() - 0.5);
        return ws.syncCalendarEvents(t.db, ctx, { integrationId: integration.id, rows, deleted }).catch(() => {
          errors++;
        });
      });
      await Promise.all(jobs);
    }
    expect(errors).toBe(0);
    const { rows } = await t.db.pool.query(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE provider_event_id IN (SELECT 'e' || (g * 3) FROM generate_series(0, 99) g))::int AS tombstoned,
              count(*) FILTER (WHERE title = 'round 4')::int AS updated
         FROM workspace.calendar_events WHERE integration_id = $1`,
      [integration.id],
    );
    // 300 keys, 100 tombstoned (e0, e3, ... e297), of e0..e99 the 66 not tombstoned carry the last round's title.
    expect(rows[0]).toEqual({ n: 200, tombstoned: 0, updated: 66 });
  });
});
