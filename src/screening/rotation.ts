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
import type { Db } from "../db/connect";
import { setLocalTenant } from "../db/tx";
import { rawResponseAad } from "./cache";
import { keyring } from "./context";
import { identifiersAad } from "./entities";
import { cacheNotUnderKey, setCacheCiphertext } from "./queries/cache.queries";
import { entitiesNotUnderKey, setEntityCiphertext } from "./queries/entities.queries";
import { activeTenantIds } from "./queries/tenants.queries";

export interface RotationReport {
  entities: number;
  cacheRows: number;
}

export async function reencryptToActiveKey(db: Db, batchSize = 500): Promise<RotationReport> {
  const k = keyring(db.config);
  const report: RotationReport = { entities: 0, cacheRows: 0 };
  for (;;) {
    const n = await db.transaction(async (c) => {
      const rows = await entitiesNotUnderKey.run({ activeKeyId: k.activeKeyId, limit: batchSize }, c);
      for (const r of rows) {
        await setEntityCiphertext.run({ entityId: r.entity_id, ciphertext: k.reencrypt(r.canonical_identifiers, identifiersAad(r.entity_id)) }, c);
      }
      return rows.length;
    });
    report.entities += n;
    if (n < batchSize) break;
  }
  const tenants = await db.transaction((c) => activeTenantIds.run(undefined, c), { readOnly: true });
  for (const { tenant_id } of tenants) {
    for (;;) {
      const n = await db.transaction(async (c) => {
        await setLocalTenant(c, tenant_id);
        const rows = await cacheNotUnderKey.run({ activeKeyId: k.activeKeyId, limit: batchSize }, c);
        for (const r of rows) {
          await setCacheCiphertext.run({ cacheId: r.cache_id, ciphertext: k.reencrypt(r.raw_response, rawResponseAad(r.entity_id, r.check_type)) }, c);
        }
        return rows.length;
      });
      report.cacheRows += n;
      if (n < batchSize) break;
    }
  }
  return report;
}
