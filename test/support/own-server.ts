/**
 * A throwaway PostgreSQL server of our own (crash and PgBouncer tests): initdb into a temporary directory,
 * start `postgres` on a free loopback port in its own process group, kill it like a power cut, restart it.
 * Uses the server binaries of the machine's PostgreSQL (Debian: /usr/lib/postgresql/<major>/bin); runs
 * them as the `postgres` user when we are root, since PostgreSQL refuses to run as root.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";

export function serverBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!fs.existsSync(root)) return undefined;
  const major = fs
    .readdirSync(root)
    .filter((d) => fs.existsSync(path.join(root, d, "bin/postgres")))
    .sort((a, b) => Number(b) - Number(a))[0];
  return major ? path.join(root, major, "bin") : undefined;
}

const asRoot = process.getuid?.() === 0;
/** As root, run the server binaries as `postgres` (spawned directly with its uid, so we stay their parent and reap them). */
export function runAs(): { uid?: number; gid?: number } {
  if (!asRoot) return {};
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  return { uid, gid };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export async function waitFor(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    try {
      await c.connect();
      await c.query("SELECT 1");
      await c.end();
      return;
    } catch (e) {
      await c.end().catch(() => {});
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export class OwnServer {
  readonly dir: string;
  readonly port: number;
  private proc?: ChildProcess;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  static async create(bin: string): Promise<OwnServer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgf-own-server-"));
    if (asRoot) execFileSync("chown", ["postgres:postgres", dir]);
    execFileSync(path.join(bin, "initdb"), ["-D", path.join(dir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-instructions"], {
      stdio: "ignore",
      cwd: dir,
      ...runAs(),
    });
    const server = new OwnServer(dir, await freePort());
    await server.start(bin);
    return server;
  }

  /**
   * A streaming replica of `primary`: pg_basebackup -R (standby.signal and primary_conninfo written) into
   * a new directory, started on its own port. initdb's default pg_hba.conf trusts replication from loopback.
   */
  static async replicaOf(bin: string, primary: OwnServer): Promise<OwnServer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgf-own-replica-"));
    if (asRoot) execFileSync("chown", ["postgres:postgres", dir]);
    execFileSync(
      path.join(bin, "pg_basebackup"),
      ["-D", path.join(dir, "data"), "-h", "127.0.0.1", "-p", String(primary.port), "-U", "postgres", "-R", "-X", "stream", "--checkpoint=fast"],
      { stdio: "ignore", cwd: dir, ...runAs() },
    );
    const server = new OwnServer(dir, await freePort());
    await server.start(bin);
    return server;
  }

  async start(bin: string): Promise<void> {
    const args = [
      "-D",
      path.join(this.dir, "data"),
      "-p",
      String(this.port),
      "-k",
      this.dir,
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "fsync=on",
      "-c",
      "max_connections=50",
    ];
    const logFd = fs.openSync(path.join(this.dir, "server.log"), "a");
    this.proc = spawn(path.join(bin, "postgres"), args, { detached: true, stdio: ["ignore", logFd, logFd], cwd: this.dir, ...runAs() });
    fs.closeSync(logFd);
    try {
      await waitFor(this.url, 20_000);
    } catch (e) {
      throw new Error(`own server did not start: ${(e as Error).message}\n${fs.readFileSync(path.join(this.dir, "server.log"), "utf8").slice(-2000)}`, {
        cause: e,
      });
    }
  }

  /** A power cut: SIGKILL the postmaster and every backend (the whole process group). */
  async kill(): Promise<void> {
    const proc = this.proc;
    const pid = proc?.pid;
    if (!proc || !pid) return;
    this.proc = undefined;
    const exited = proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((r) => proc.once("exit", r));
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
    await exited;
    // Backends run as children of the postmaster inside the group; wait until none holds the port.
    for (let i = 0; i < 50; i++) {
      try {
        execFileSync("pgrep", ["-f", `-D ${path.join(this.dir, "data")}`], { stdio: "ignore" });
        await new Promise((r) => setTimeout(r, 100));
      } catch {
        break;
      }
    }
  }

  async destroy(): Promise<void> {
    await this.kill();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
