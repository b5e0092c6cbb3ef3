/** Server-engine database management: throwaway databases (tests, schema dump) and the migrated test template. */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { MIGRATIONS_DIR, migrate } from "./migrate";

/** The URL of another database on the same server. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Short prefix for databases this suite creates, from the admin database name. */
function prefix(url: string): string {
  return (decodeURIComponent(new URL(url).pathname.slice(1)) || "postgres")
    .replace(/[^a-z0-9_]/gi, "_")
    .slice(0, 24)
    .toLowerCase();
}

export function migrationsHash(): string {
  const h = crypto.createHash("sha256");
  for (const f of fs.readdirSync(MIGRATIONS_DIR).sort()) {
    h.update(f)
      .update("\0")
      .update(fs.readFileSync(path.join(MIGRATIONS_DIR, f)))
      .update("\0");
  }
  return h.digest("hex").slice(0, 12);
}

async function admin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const q = (ident: string) => `"${ident.replace(/"/g, '""')}"`;

/** Build (once per migrations hash) and return the name of the migrated template database. */
export async function ensureTemplate(adminUrl: string): Promise<string> {
  const base = prefix(adminUrl);
  const name = `${base}_tpl_${migrationsHash()}`;
  return admin(adminUrl, async (c) => {
    // Serialise concurrent test runs building the same template.
    await c.query("SELECT pg_advisory_lock(hashtext('pg-foundation:test-template'))");
    try {
      const exists = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
      if (exists.rowCount === 0) {
        const building = `${name}_building`;
        await c.query(`DROP DATABASE IF EXISTS ${q(building)} WITH (FORCE)`);
        await c.query(`CREATE DATABASE ${q(building)}`);
        await migrate(withDatabase(adminUrl, building), { direction: "up" });
        await c.query(`ALTER DATABASE ${q(building)} RENAME TO ${q(name)}`);
      }
      // Templates of older migration sets are dead weight.
      const old = await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname <> $2", [`${base}\\_tpl\\_%`, name]);
      for (const { datname } of old.rows) await c.query(`DROP DATABASE IF EXISTS ${q(datname)} WITH (FORCE)`);
      return name;
    } finally {
      await c.query("SELECT pg_advisory_unlock(hashtext('pg-foundation:test-template'))");
    }
  });
}

/** A new database: a copy of `template`, or an empty one (from template0) when template is undefined. */
export async function createDatabase(adminUrl: string, template?: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix(adminUrl)}_t_${process.pid}_${crypto.randomBytes(4).toString("hex")}`;
  await admin(adminUrl, (c) => c.query(`CREATE DATABASE ${q(name)} TEMPLATE ${q(template ?? "template0")}`));
  return {
    url: withDatabase(adminUrl, name),
    drop: () => admin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${q(name)} WITH (FORCE)`)).then(() => {}),
  };
}
