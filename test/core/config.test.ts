import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config";
import { ConfigError } from "../../src/db/errors";

const key = (byte: number, len = 32) => Buffer.alloc(len, byte).toString("base64");
const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
};

describe("loadConfig", () => {
  it("has working defaults with an empty environment (embedded engine)", () => {
    const c = loadConfig({});
    expect(c.databaseUrl).toBeUndefined();
    expect(c.pool).toEqual({ max: 10, connectTimeoutMs: 10_000, idleTimeoutMs: 10_000, statementTimeoutMs: 30_000 });
    expect(c.pglite).toEqual({ dataDir: ".data/pglite", port: 5433 });
    expect(c.keys.encryption).toBeUndefined();
  });

  it("treats empty strings as unset", () => {
    expect(loadConfig({ DATABASE_URL: "", DB_POOL_MAX: "" }).pool.max).toBe(10);
  });

  it("parses numbers and a keyring", () => {
    const c = loadConfig({
      DATABASE_URL: "postgresql://u:p@db:5432/app",
      DB_POOL_MAX: "25",
      ENCRYPTION_KEYS: `k1:${key(1)}, k2:${key(2)}`,
      ENCRYPTION_ACTIVE_KEY_ID: "k2",
      BLIND_INDEX_KEY: key(3),
    });
    expect(c.pool.max).toBe(25);
    expect([...(c.keys.encryption?.keys() ?? [])]).toEqual(["k1", "k2"]);
    expect(c.keys.encryption?.get("k2")).toEqual(Buffer.alloc(32, 2));
    expect(c.keys.blindIndex).toEqual(Buffer.alloc(32, 3));
  });

  it.each([
    [{ DATABASE_URL: "mysql://x" }, "DATABASE_URL"],
    [{ DB_POOL_MAX: "0" }, "DB_POOL_MAX"],
    [{ DB_POOL_MAX: "ten" }, "DB_POOL_MAX"],
    [{ DB_STATEMENT_TIMEOUT_MS: "-1" }, "DB_STATEMENT_TIMEOUT_MS"],
    [{ PGLITE_PORT: "70000" }, "PGLITE_PORT"],
    [{ ENCRYPTION_KEYS: `k1:${key(1, 16)}`, ENCRYPTION_ACTIVE_KEY_ID: "k1" }, "ENCRYPTION_KEYS"],
    [{ ENCRYPTION_KEYS: `nokeyid`, ENCRYPTION_ACTIVE_KEY_ID: "k1" }, "ENCRYPTION_KEYS"],
    [{ ENCRYPTION_KEYS: `k1:${key(1)},k1:${key(2)}`, ENCRYPTION_ACTIVE_KEY_ID: "k1" }, "ENCRYPTION_KEYS"],
    [{ ENCRYPTION_KEYS: `k1:${key(1)}` }, "ENCRYPTION_ACTIVE_KEY_ID"],
    [{ ENCRYPTION_KEYS: `k1:${key(1)}`, ENCRYPTION_ACTIVE_KEY_ID: "k9" }, "ENCRYPTION_ACTIVE_KEY_ID"],
    [{ BLIND_INDEX_KEY: key(1, 31) }, "BLIND_INDEX_KEY"],
  ])("rejects %o naming %s", (env, variable) => {
    const p = problems(env as Record<string, string>);
    expect(
      p.some((line) => line.startsWith(`${variable}:`)),
      p.join("; "),
    ).toBe(true);
  });

  it("never echoes key material in its messages", () => {
    const secret = key(7, 31);
    const p = problems({ BLIND_INDEX_KEY: secret });
    expect(p.join("\n")).not.toContain(secret);
  });

  it("read replicas: a comma-separated list of server URLs, only beside DATABASE_URL", () => {
    const c = loadConfig({ DATABASE_URL: "postgres://p/db", DATABASE_REPLICA_URLS: " postgres://r1/db, postgres://r2/db ,", DB_REPLICA_CHECK_MS: "250" });
    expect(c.replicas).toEqual({ urls: ["postgres://r1/db", "postgres://r2/db"], maxLagBytes: 16 * 1024 * 1024, checkMs: 250 });
    expect(loadConfig({ DATABASE_URL: "postgres://p/db" }).replicas).toBeUndefined();
    expect(problems({ DATABASE_REPLICA_URLS: "postgres://r1/db" })).toEqual([expect.stringMatching(/^DATABASE_REPLICA_URLS: needs DATABASE_URL/)]);
    expect(problems({ DATABASE_URL: "postgres://p/db", DATABASE_REPLICA_URLS: "mysql://r1/db" })).toEqual([expect.stringMatching(/^DATABASE_REPLICA_URLS/)]);
  });

  it("reports every bad variable at once", () => {
    expect(problems({ DB_POOL_MAX: "0", PGLITE_PORT: "x" })).toHaveLength(2);
  });
});
