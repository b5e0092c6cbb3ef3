/**
 * Configuration from the environment, validated once with zod. Every variable is documented in
 * .env.example; a bad value fails fast with a ConfigError naming the variable, never a late driver error.
 */
import { z } from "zod";
import { ConfigError } from "./db/errors";

const intFromEnv = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

/** `kid:base64key` pairs, comma-separated; each key must decode to exactly 32 bytes (AES-256). */
const keyring = z.string().transform((raw, ctx) => {
  const keys = new Map<string, Buffer>();
  for (const part of raw
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const sep = part.indexOf(":");
    const kid = sep > 0 ? part.slice(0, sep) : "";
    const key = Buffer.from(part.slice(sep + 1), "base64");
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(kid)) {
      ctx.addIssue({ code: "custom", message: "each entry must be <key id>:<base64 key>, key id [A-Za-z0-9_-]{1,32}" });
      return z.NEVER;
    }
    if (key.length !== 32) {
      ctx.addIssue({ code: "custom", message: `key "${kid}" must decode to 32 bytes, got ${key.length}` });
      return z.NEVER;
    }
    if (keys.has(kid)) {
      ctx.addIssue({ code: "custom", message: `key id "${kid}" appears twice` });
      return z.NEVER;
    }
    keys.set(kid, key);
  }
  return keys;
});

const base64Key32 = z.string().transform((raw, ctx) => {
  const key = Buffer.from(raw, "base64");
  if (key.length !== 32) {
    ctx.addIssue({ code: "custom", message: `must decode to 32 bytes, got ${key.length}` });
    return z.NEVER;
  }
  return key;
});

const schema = z
  .object({
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
      .optional(),
    DB_POOL_MAX: intFromEnv(10, 1, 500),
    DB_STATEMENT_TIMEOUT_MS: intFromEnv(30_000, 0, 86_400_000),
    DB_CONNECT_TIMEOUT_MS: intFromEnv(10_000, 100, 600_000),
    DB_IDLE_TIMEOUT_MS: intFromEnv(10_000, 0, 3_600_000),
    DB_TX_MAX_RETRIES: intFromEnv(5, 0, 50),
    DB_PREPARED_STATEMENTS: z
      .enum(["true", "false", "on", "off", "1", "0"], { message: "must be true or false" })
      .default("true")
      .transform((v) => v === "true" || v === "on" || v === "1"),
    DB_PIPELINE: z
      .enum(["true", "false", "on", "off", "1", "0"], { message: "must be true or false" })
      .default("true")
      .transform((v) => v === "true" || v === "on" || v === "1"),
    DATABASE_REPLICA_URLS: z
      .string()
      .transform((v) =>
        v
          .split(",")
          .map((u) => u.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.string().regex(/^postgres(ql)?:\/\//, "each must be a postgres:// or postgresql:// URL")))
      .optional(),
    DB_REPLICA_MAX_LAG_BYTES: intFromEnv(16 * 1024 * 1024, 0, 2 ** 40),
    DB_REPLICA_CHECK_MS: intFromEnv(1000, 10, 600_000),
    PGLITE_DATA_DIR: z.string().min(1).default(".data/pglite"),
    PGLITE_PORT: intFromEnv(5433, 0, 65_535),
    ENCRYPTION_KEYS: keyring.optional(),
    ENCRYPTION_ACTIVE_KEY_ID: z.string().optional(),
    BLIND_INDEX_KEY: base64Key32.optional(),
  })
  .superRefine((c, ctx) => {
    if (c.DATABASE_REPLICA_URLS?.length && !c.DATABASE_URL) {
      ctx.addIssue({ code: "custom", path: ["DATABASE_REPLICA_URLS"], message: "needs DATABASE_URL (replicas of a server; the embedded engine has none)" });
    }
    if (c.ENCRYPTION_KEYS && !c.ENCRYPTION_ACTIVE_KEY_ID) {
      ctx.addIssue({ code: "custom", path: ["ENCRYPTION_ACTIVE_KEY_ID"], message: "required when ENCRYPTION_KEYS is set" });
    }
    if (c.ENCRYPTION_ACTIVE_KEY_ID && !c.ENCRYPTION_KEYS?.has(c.ENCRYPTION_ACTIVE_KEY_ID)) {
      ctx.addIssue({ code: "custom", path: ["ENCRYPTION_ACTIVE_KEY_ID"], message: "must name a key in ENCRYPTION_KEYS" });
    }
  });

export interface Config {
  databaseUrl?: string;
  pool: { max: number; connectTimeoutMs: number; idleTimeoutMs: number; statementTimeoutMs: number };
  txMaxRetries: number;
  /** Run parameterised queries as named prepared statements (src/db/pool.ts); off behind PgBouncer < 1.21 in transaction mode. */
  preparedStatements: boolean;
  /** Pipeline each transaction's statements (src/db/pool.ts, src/db/tx.ts); on by default, on both engines. */
  pipeline: boolean;
  /** Read replicas of DATABASE_URL (src/db/replicas.ts): read-only operations go there, with read-your-writes. */
  replicas?: { urls: string[]; maxLagBytes: number; checkMs: number };
  pglite: { dataDir: string; port: number };
  keys: { encryption?: Map<string, Buffer>; activeKeyId?: string; blindIndex?: Buffer };
}

/** Parse and validate configuration; throws ConfigError listing every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset", as in most .env tooling.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const r = schema.safeParse(cleaned);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join(".") || "(config)"}: ${i.message}`);
    throw new ConfigError(problems);
  }
  const c = r.data;
  return {
    databaseUrl: c.DATABASE_URL,
    pool: {
      max: c.DB_POOL_MAX,
      connectTimeoutMs: c.DB_CONNECT_TIMEOUT_MS,
      idleTimeoutMs: c.DB_IDLE_TIMEOUT_MS,
      statementTimeoutMs: c.DB_STATEMENT_TIMEOUT_MS,
    },
    txMaxRetries: c.DB_TX_MAX_RETRIES,
    preparedStatements: c.DB_PREPARED_STATEMENTS,
    pipeline: c.DB_PIPELINE,
    replicas: c.DATABASE_REPLICA_URLS?.length
      ? { urls: c.DATABASE_REPLICA_URLS, maxLagBytes: c.DB_REPLICA_MAX_LAG_BYTES, checkMs: c.DB_REPLICA_CHECK_MS }
      : undefined,
    pglite: { dataDir: c.PGLITE_DATA_DIR, port: c.PGLITE_PORT },
    keys: { encryption: c.ENCRYPTION_KEYS, activeKeyId: c.ENCRYPTION_ACTIVE_KEY_ID, blindIndex: c.BLIND_INDEX_KEY },
  };
}
