/**
 * The operation registry (src/db/operation.ts) and the rules every declaration must follow (CONVENTIONS.md).
 * Derived from the registry, so a new operation is checked the moment it is declared.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { operations } from "../../src";
import type { Declaration } from "../../src/db/operation";

const ROOT = path.resolve(import.meta.dirname, "../..");
const all = operations().map((o) => ({ domain: o.domain, ...(o.declaration as Declaration) }));
const names = (ds: typeof all) => ds.map((d) => d.name).sort();

describe("the operation registry", () => {
  it("lists every public operation of the three domains and core, each once, named <domain>.<resource>.<verb>", () => {
    expect(all.length).toBeGreaterThan(80);
    expect(new Set(all.map((d) => d.domain))).toEqual(new Set(["core", "screening", "workspace", "wills"]));
    for (const d of all) expect(d.name, d.name).toMatch(new RegExp(`^${d.domain}\\.[a-z_]+\\.[a-z_]+$`));
    expect(new Set(all.map((d) => d.name)).size).toBe(all.length);
  });

  it("every read of data subjects' personal data leaves a data-access record", () => {
    expect(
      names(all.filter((d) => d.kind === "read" && d.reveals === "personal" && d.audit !== "access")),
      "reads of personal data without audit: access",
    ).toEqual([]);
  });

  it("every write that returns personal data records the change", () => {
    expect(
      names(all.filter((d) => d.kind === "write" && d.reveals === "personal" && d.audit !== "change")),
      "writes revealing personal data without a change record",
    ).toEqual([]);
  });

  it("every change to organisation-wide state declares the permission it requires", () => {
    expect(
      names(all.filter((d) => d.kind === "write" && d.affects === "organization" && !d.permission)),
      "organisation-wide writes without a permission",
    ).toEqual([]);
    for (const d of all.filter((x) => x.permission)) expect(d.permission, d.name).toMatch(/^[a-z][a-z_]*:([a-z][a-z_]*|\*)$/);
  });

  it("a write takes the platform context exactly when it changes the platform (no tenant write bypasses RLS on the owner connection)", () => {
    const mismatched = all.filter((d) => d.kind === "write" && (d.context === "platform") !== (d.affects === "platform"));
    expect(names(mismatched)).toEqual([]);
  });

  it("only reads are audited as access (the runner makes them read-write for the record; other reads run READ ONLY)", () => {
    expect(all.filter((d) => d.audit === "access").every((d) => d.kind === "read")).toBe(true);
  });
});

describe("layers", () => {
  it("every operation of every domain has the same shape: (db, ctx, input) with its declaration attached", () => {
    for (const op of operations()) {
      expect(typeof op, op.declaration.name).toBe("function");
      expect((op as unknown as (...a: unknown[]) => unknown).length, op.declaration.name).toBe(3);
    }
  });

  it("src/db is runtime only: it names no domain and imports no tooling or domain module", () => {
    const dir = path.join(ROOT, "src/db");
    const offences = fs.readdirSync(dir).flatMap((f) => {
      const text = fs.readFileSync(path.join(dir, f), "utf8");
      return [
        ...[...text.matchAll(/\b(screening|workspace|wills)\b/g)].map((m) => `${f}: names ${m[0]}`),
        ...[...text.matchAll(/from "\.\.\/(tools|screening|workspace|wills|core)\b[^"]*"/g)].map((m) => `${f}: imports ${m[0]}`),
      ];
    });
    expect(offences).toEqual([]);
  });
});
