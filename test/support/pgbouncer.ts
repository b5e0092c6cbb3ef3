/**
 * A PgBouncer of our own in transaction pooling mode, in front of the test server (issue 7, item 9).
 * Started from the Debian `pgbouncer` binary on a free loopback port; as the `postgres` user when we are
 * root (PgBouncer refuses to run as root).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort, runAs, waitFor } from "./own-server";

export function pgbouncerBinary(): string | undefined {
  for (const p of ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]) if (fs.existsSync(p)) return p;
  return undefined;
}

export class Bouncer {
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly proc: ChildProcess,
  ) {}

  /** A URL for `database` through the bouncer. */
  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  static async start(bin: string, server: { host: string; port: number }, database: string): Promise<Bouncer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgf-bouncer-"));
    const port = await freePort();
    fs.writeFileSync(path.join(dir, "userlist.txt"), '"postgres" ""\n');
    fs.writeFileSync(
      path.join(dir, "pgbouncer.ini"),
      [
        "[databases]",
        `* = host=${server.host} port=${server.port}`,
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        `listen_port = ${port}`,
        "unix_socket_dir =",
        "auth_type = trust",
        `auth_file = ${path.join(dir, "userlist.txt")}`,
        "pool_mode = transaction",
        "max_client_conn = 500",
        "default_pool_size = 20",
        "ignore_startup_parameters = extra_float_digits,statement_timeout,options",
        `logfile = ${path.join(dir, "pgbouncer.log")}`,
        "",
      ].join("\n"),
    );
    if (process.getuid?.() === 0) execFileSync("chown", ["-R", "postgres:postgres", dir]);
    const proc = spawn(bin, [path.join(dir, "pgbouncer.ini")], { stdio: "ignore", cwd: dir, ...runAs() });
    const b = new Bouncer(dir, port, proc);
    try {
      await waitFor(b.url(database), 15_000);
    } catch (e) {
      const log = fs.existsSync(path.join(dir, "pgbouncer.log")) ? fs.readFileSync(path.join(dir, "pgbouncer.log"), "utf8").slice(-1500) : "";
      await b.stop();
      throw new Error(`pgbouncer did not start: ${(e as Error).message}\n${log}`, { cause: e });
    }
    return b;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((r) => this.proc.once("exit", r));
      this.proc.kill("SIGTERM");
      await exited;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
