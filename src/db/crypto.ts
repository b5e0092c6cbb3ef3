/**
 * Application-level encryption of PII at rest (seed 002: "PII data encrypted at rest using AES-256"),
 * shared by every domain: AES-256-GCM from node:crypto with a key id inside every ciphertext, so keys
 * rotate without a flag day (old ciphertexts keep decrypting; `reencrypt` moves a value to the active key),
 * and blind indexes (HMAC-SHA256) to look encrypted identifiers up without storing plaintext.
 *
 * Written by hand rather than pulled from a library: it is ~100 lines over node:crypto's audited
 * primitives, and the ciphertext format (key id + AAD binding) is specific to how rows store it.
 *
 * Ciphertext layout (bytea): 0x01 | kid length (1 byte) | kid (ASCII) | IV (12) | tag (16) | ciphertext.
 * The optional AAD (e.g. "<schema>.<table>.<column>:<row id>") binds a ciphertext to
 * its place, so one row's value cannot be swapped into another's.
 */
import crypto from "node:crypto";
import type { Config } from "../config";
import { AppError, ConfigError } from "./errors";

const FORMAT_V1 = 0x01;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A ciphertext that cannot be decrypted: tampered, truncated, wrong AAD, or an unknown key. */
export class DecryptionError extends AppError {
  readonly code = "decryption" as const;
}

const keyrings = new WeakMap<Config, Keyring>();

export class Keyring {
  readonly activeKeyId: string;
  readonly #keys: Map<string, Buffer>;

  constructor(keys: Map<string, Buffer>, activeKeyId: string) {
    if (!keys.has(activeKeyId)) throw new ConfigError([`ENCRYPTION_ACTIVE_KEY_ID: key "${activeKeyId}" is not in the keyring`]);
    for (const [kid, key] of keys) {
      if (key.length !== 32) throw new ConfigError([`ENCRYPTION_KEYS: key "${kid}" must be 32 bytes`]);
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(kid)) throw new ConfigError([`ENCRYPTION_KEYS: bad key id "${kid}"`]);
    }
    this.#keys = new Map(keys);
    this.activeKeyId = activeKeyId;
  }

  /** The keyring from validated configuration; a ConfigError when encryption keys are not configured. */
  static fromConfig(cfg: Config): Keyring {
    if (!cfg.keys.encryption || !cfg.keys.activeKeyId) {
      throw new ConfigError(["ENCRYPTION_KEYS and ENCRYPTION_ACTIVE_KEY_ID must be set to store encrypted data (see .env.example)"]);
    }
    return new Keyring(cfg.keys.encryption, cfg.keys.activeKeyId);
  }

  /** The keyring of this configuration, built once and shared by every domain's service. */
  static forConfig(cfg: Config): Keyring {
    let k = keyrings.get(cfg);
    if (!k) {
      k = Keyring.fromConfig(cfg);
      keyrings.set(cfg, k);
    }
    return k;
  }

  encrypt(plaintext: Buffer | string, aad = ""): Buffer {
    const kid = Buffer.from(this.activeKeyId, "ascii");
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv("aes-256-gcm", this.#keys.get(this.activeKeyId) as Buffer, iv);
    cipher.setAAD(Buffer.concat([kid, Buffer.from(`\0${aad}`, "utf8")]));
    const body = Buffer.concat([cipher.update(typeof plaintext === "string" ? Buffer.from(plaintext, "utf8") : plaintext), cipher.final()]);
    return Buffer.concat([Buffer.from([FORMAT_V1, kid.length]), kid, iv, cipher.getAuthTag(), body]);
  }

  decrypt(ciphertext: Buffer, aad = ""): Buffer {
    const { kid, iv, tag, body } = parse(ciphertext);
    const key = this.#keys.get(kid);
    if (!key) throw new DecryptionError(`ciphertext was made with key "${kid}", which is not in the keyring`);
    try {
      const decipher = crypto.createDecipheriv("aes-256-gcm", key, iv);
      decipher.setAAD(Buffer.concat([Buffer.from(kid, "ascii"), Buffer.from(`\0${aad}`, "utf8")]));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(body), decipher.final()]);
    } catch {
      throw new DecryptionError("ciphertext failed authentication: it was modified, truncated, or belongs elsewhere (AAD mismatch)");
    }
  }

  decryptString(ciphertext: Buffer, aad = ""): string {
    return this.decrypt(ciphertext, aad).toString("utf8");
  }

  /** The id of the key a ciphertext was made with. */
  keyIdOf(ciphertext: Buffer): string {
    return parse(ciphertext).kid;
  }

  /** True when the value should be moved to the active key. */
  isStale(ciphertext: Buffer): boolean {
    return this.keyIdOf(ciphertext) !== this.activeKeyId;
  }

  /** Decrypt with whichever key made it and encrypt again with the active key. */
  reencrypt(ciphertext: Buffer, aad = ""): Buffer {
    return this.encrypt(this.decrypt(ciphertext, aad), aad);
  }
}

function parse(ct: Buffer): { kid: string; iv: Buffer; tag: Buffer; body: Buffer } {
  if (!Buffer.isBuffer(ct) || ct.length < 2 || ct[0] !== FORMAT_V1) throw new DecryptionError("not a ciphertext of a known format");
  const kidLen = ct[1] as number;
  const ivAt = 2 + kidLen;
  if (kidLen === 0 || ct.length < ivAt + IV_BYTES + TAG_BYTES) throw new DecryptionError("ciphertext is truncated");
  return {
    kid: ct.subarray(2, ivAt).toString("ascii"),
    iv: ct.subarray(ivAt, ivAt + IV_BYTES),
    tag: ct.subarray(ivAt + IV_BYTES, ivAt + IV_BYTES + TAG_BYTES),
    body: ct.subarray(ivAt + IV_BYTES + TAG_BYTES),
  };
}

/**
 * Blind index: HMAC-SHA256 over "<kind>\0<normalised value>" with its own key (BLIND_INDEX_KEY), so equal
 * identifiers of one kind match (UNIQUE per kind, lookup by identifier) without the plaintext being stored,
 * and the same number as an SSN and as an EIN give unrelated digests. Normalising is the caller's job
 * (e.g. digits only for an SSN).
 */
export function blindIndex(key: Buffer, kind: string, normalisedValue: string): Buffer {
  if (key.length !== 32) throw new ConfigError(["BLIND_INDEX_KEY must be 32 bytes"]);
  return crypto.createHmac("sha256", key).update(kind, "utf8").update("\0").update(normalisedValue, "utf8").digest();
}
