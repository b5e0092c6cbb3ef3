/**
 * Runs once per `vitest run`: migrate a database the test files can copy.
 * - server (DATABASE_URL set): a template database named by a hash of migrations/, built once and reused
 *   while migrations/ is unchanged; each test file then does CREATE DATABASE ... TEMPLATE it.
 * - embedded: one PGlite database migrated and dumped to a tarball; each test file loads that snapshot.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { snapshotEmbedded, startEmbedded } from "../../src/db/engine";
import { migrate } from "../../src/tools/migrate";
import { ensureTemplate } from "../../src/tools/databases";

export interface DbInfo {
  kind: "server" | "embedded";
  /** server: the template database's name and the admin URL */
  template?: string;
  adminUrl?: string;
  /** embedded: path of the migrated snapshot tarball */
  snapshot?: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    dbInfo: DbInfo;
  }
}

export default async function setup(project: TestProject) {
  const url = process.env.DATABASE_URL;
  if (url) {
    const template = await ensureTemplate(url);
    project.provide("dbInfo", { kind: "server", template, adminUrl: url });
    console.log(`[test] server engine, template database ${template}`);
    return;
  }
  const started = Date.now();
  const engine = await startEmbedded();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgf-snapshot-"));
  const file = path.join(dir, "migrated.tar.gz");
  try {
    await migrate(engine.url, { direction: "up" });
    const blob = await snapshotEmbedded(engine);
    fs.writeFileSync(file, Buffer.from(await blob.arrayBuffer()));
  } finally {
    await engine.stop();
  }
  project.provide("dbInfo", { kind: "embedded", snapshot: file });
  console.log(`[test] embedded engine (PGlite), migrated snapshot in ${Date.now() - started} ms`);
  return () => fs.rmSync(dir, { recursive: true, force: true });
}
