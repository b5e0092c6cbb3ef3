import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config";
import { blindIndex, DecryptionError, Keyring } from "../../src/db/crypto";
import { ConfigError } from "../../src/db/errors";
import { useTestDb } from "../support/db";

const k = (b: number) => Buffer.alloc(32, b);
const old = new Keyring(new Map([["k1", k(1)]]), "k1");
const rotated = new Keyring(
  new Map([
    ["k1", k(1)],
    ["k2", k(2)],
  ]),
  "k2",
);
const ssn = "123-45-6789";

describe("Keyring (AES-256-GCM with key ids)", () => {
  it("round-trips, with a fresh IV each time", () => {
    const a = old.encrypt(ssn);
    const b = old.encrypt(ssn);
    expect(a.equals(b)).toBe(false);
    expect(a.includes(Buffer.from(ssn))).toBe(false);
    expect(old.decryptString(a)).toBe(ssn);
    expect(old.keyIdOf(a)).toBe("k1");
  });

  it("rotates: old ciphertexts still decrypt, reencrypt moves them to the active key", () => {
    const legacy = old.encrypt(ssn, "row-1");
    expect(rotated.decryptString(legacy, "row-1")).toBe(ssn);
    expect(rotated.isStale(legacy)).toBe(true);
    const moved = rotated.reencrypt(legacy, "row-1");
    expect(rotated.keyIdOf(moved)).toBe("k2");
    expect(rotated.isStale(moved)).toBe(false);
    expect(rotated.decryptString(moved, "row-1")).toBe(ssn);
    // A keyring without k2 cannot read what k2 wrote, and says so without any plaintext.
    const err = (() => {
      try {
        old.decrypt(moved, "row-1");
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(DecryptionError);
    expect(err?.message).toContain('"k2"');
  });

  it("detects tampering with any byte, truncation, and a wrong AAD", () => {
    const ct = old.encrypt(ssn, "entity:1");
    for (let i = 0; i < ct.length; i++) {
      const bad = Buffer.from(ct);
      bad[i] = (bad[i] as number) ^ 0x01;
      expect(() => old.decrypt(bad, "entity:1"), `byte ${i}`).toThrow(DecryptionError);
    }
    expect(() => old.decrypt(ct.subarray(0, ct.length - 1), "entity:1")).toThrow(DecryptionError);
    expect(() => old.decrypt(ct.subarray(0, 10), "entity:1")).toThrow(DecryptionError);
    expect(() => old.decrypt(ct, "entity:2")).toThrow(DecryptionError);
    try {
      old.decrypt(ct, "entity:2");
    } catch (e) {
      expect((e as Error).message).not.toContain(ssn);
    }
  });

  it("is built from validated configuration, and refuses to run without keys", () => {
    const cfg = loadConfig({ ENCRYPTION_KEYS: `a:${k(5).toString("base64")}`, ENCRYPTION_ACTIVE_KEY_ID: "a" });
    expect(Keyring.fromConfig(cfg).decryptString(new Keyring(new Map([["a", k(5)]]), "a").encrypt("x"))).toBe("x");
    expect(() => Keyring.fromConfig(loadConfig({}))).toThrow(ConfigError);
    expect(() => new Keyring(new Map([["a", k(1)]]), "b")).toThrow(ConfigError);
  });
});

describe("blindIndex", () => {
  const key = k(9);
  it("is deterministic per (kind, value) and separates kinds and keys", () => {
    expect(blindIndex(key, "ssn", "123456789").equals(blindIndex(key, "ssn", "123456789"))).toBe(true);
    expect(blindIndex(key, "ssn", "123456789").equals(blindIndex(key, "ein", "123456789"))).toBe(false);
    expect(blindIndex(key, "ssn", "123456789").equals(blindIndex(k(8), "ssn", "123456789"))).toBe(false);
    expect(blindIndex(key, "ssn", "123456789")).toHaveLength(32);
    // Kind and value cannot be shifted into each other.
    expect(blindIndex(key, "ss", "n123").equals(blindIndex(key, "ssn", "123"))).toBe(false);
  });
});

describe("ciphertexts in the database", () => {
  const t = useTestDb();
  it("survive a bytea round trip unchanged and still authenticate", async () => {
    await t.db.pool.query("CREATE TABLE public.secrets (id uuid PRIMARY KEY, payload bytea NOT NULL)");
    const id = crypto.randomUUID();
    const ct = rotated.encrypt(JSON.stringify({ ssn }), `secrets:${id}`);
    await t.db.pool.query("INSERT INTO public.secrets VALUES ($1, $2)", [id, ct]);
    const { rows } = await t.db.pool.query<{ payload: Buffer }>("SELECT payload FROM public.secrets WHERE id = $1", [id]);
    expect(rows[0]?.payload.equals(ct)).toBe(true);
    expect(JSON.parse(rotated.decryptString(rows[0]?.payload as Buffer, `secrets:${id}`))).toEqual({ ssn });
  });
});
