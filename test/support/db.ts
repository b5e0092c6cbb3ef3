/**
 * Per-file test databases. `useTestDb()` registers beforeAll/afterAll hooks that give the file its own
 * migrated database on the engine chosen for this run, and returns a handle filled in by beforeAll.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import { afterAll, beforeAll, describe, inject } from "vitest";
import { loadConfig } from "../../src/config";
import { type Db, dbFor } from "../../src/db/connect";
import { type Engine, serverEngine, startEmbedded } from "../../src/db/engine";
import { createDatabase } from "../../src/tools/databases";

export const dbInfo = inject("dbInfo");
export const engineKind = dbInfo.kind;

/**
 * describe() for tests that need true concurrency (racing transactions, many sessions, advisory locks).
 * PGlite runs one session for every connection, so on the embedded engine these are skipped.
 */
export const describeServer = describe.skipIf(engineKind !== "server");
export const SERVER_ONLY_REASON = "needs real concurrent sessions: PGlite serves every connection from one session";

/** A database for one test: migrated copy (default) or empty. */
export async function createTestEngine(opts: { empty?: boolean } = {}): Promise<Engine> {
  if (dbInfo.kind === "server") {
    const created = await createDatabase(dbInfo.adminUrl as string, opts.empty ? undefined : dbInfo.template);
    const engine = serverEngine(created.url);
    return { ...engine, stop: created.drop };
  }
  const snapshot = opts.empty ? undefined : new Blob([fs.readFileSync(dbInfo.snapshot as string)]);
  return startEmbedded({ snapshot });
}

/** Throwaway keys for this test run: two encryption keys (so rotation is exercised) and a blind-index key. */
const key = () => crypto.randomBytes(32).toString("base64");
const TEST_KEYS = { ENCRYPTION_KEYS: `t1:${key()},t2:${key()}`, ENCRYPTION_ACTIVE_KEY_ID: "t2", BLIND_INDEX_KEY: key() };

/** Configuration for tests: the environment's, with test keys and the engine's URL. */
export function testConfig(url: string, overrides: Record<string, string> = {}) {
  return loadConfig({
    ...process.env,
    ...TEST_KEYS,
    DATABASE_URL: url,
    DB_POOL_MAX: "8",
    ...overrides,
  });
}

export interface TestDb {
  db: Db;
  engine: Engine;
}

export function useTestDb(overrides: Record<string, string> = {}): TestDb {
  const handle = {} as TestDb;
  beforeAll(async () => {
    handle.engine = await createTestEngine();
    handle.db = dbFor(handle.engine, testConfig(handle.engine.url, overrides));
  });
  afterAll(async () => {
    await handle.db?.close();
  });
  return handle;
}
