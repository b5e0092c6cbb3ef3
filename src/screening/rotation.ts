/**
 * Key rotation: move encrypted columns to the active key. Run after adding a new key to ENCRYPTION_KEYS
 * and making it ENCRYPTION_ACTIVE_KEY_ID; once it reports nothing left, the old key can be retired —
 * except for audit_events.sensitive_details, which is append-only and keeps the key it was written with
 * (keep old keys in the keyring for as long as such audit rows are retained).
 *
 * Runs as the connecting (owner) role in batches, one transaction per batch. The cache table is under
 * FORCE ROW LEVEL SECURITY even for its owner, so it is walked once per tenant (each pass also covers the
 * shared paid rows).
 */
import { z } from "zod";
import { many } from "../db/rows";
import { setLocalTenant } from "../db/tx";
import { rawResponseAad } from "./cache";
import { batchOperation, keyring } from "./context";
import { identifiersAad } from "./entities";
import { sql } from "./sql";

/** How many rows were re-encrypted: entity identifiers and cached raw responses. */
export interface RotationReport {
  entities: number;
  cache_rows: number;
}

export const reencryptToActiveKey = batchOperation({
  name: "screening.keys.reencrypt",
  input: z.object({ batchSize: z.number().int().min(1).max(10_000).default(500) }),
  kind: "write",
  affects: "platform",
  context: "platform",
  reveals: "nothing",
  audit: "none",
  async run({ batchSize }, { db }): Promise<RotationReport> {
    const k = keyring(db.config);
    const report: RotationReport = { entities: 0, cache_rows: 0 };
    for (;;) {
      const n = await db.transaction(async (c) => {
        const rows = await many(sql.entities.entitiesNotUnderKey, { activeKeyId: k.activeKeyId, limit: batchSize }, c);
        for (const r of rows) {
          await many(
            sql.entities.setEntityCiphertext,
            { entityId: r.entity_id, ciphertext: k.reencrypt(r.canonical_identifiers, identifiersAad(r.entity_id)) },
            c,
          );
        }
        return rows.length;
      });
      report.entities += n;
      if (n < batchSize) break;
    }
    const tenants = await db.transaction((c) => many(sql.tenants.activeTenantIds, undefined, c), { readOnly: true });
    for (const { tenant_id } of tenants) {
      for (;;) {
        const n = await db.transaction(async (c) => {
          await setLocalTenant(c, tenant_id);
          const rows = await many(sql.cache.cacheNotUnderKey, { activeKeyId: k.activeKeyId, limit: batchSize }, c);
          for (const r of rows) {
            await many(
              sql.cache.setCacheCiphertext,
              { cacheId: r.cache_id, ciphertext: k.reencrypt(r.raw_response, rawResponseAad(r.entity_id, r.check_type)) },
              c,
            );
          }
          return rows.length;
        });
        report.cache_rows += n;
        if (n < batchSize) break;
      }
    }
    return report;
  },
});
