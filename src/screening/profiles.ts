/**
 * Versioned profiles, each the property of the tenant whose screening made it (tenant_id, forced RLS).
 * Versions are gap-free per (entity, tenant): a new version is made under a row lock on the tenant's link to
 * the entity (SELECT ... FOR NO KEY UPDATE), so one tenant's concurrent writers queue and get 1, 2, 3, ...
 * with no gap and no error; the UNIQUE (tenant_id, entity_id, version) index backs that up. Per tenant, not
 * per entity: a shared sequence would tell one customer how often others screened the same person. The delta against the previous version is
 * computed in the same transaction.
 */
import { z } from "zod";
import { many, maybeOne, one } from "../db/rows";
import { jsonArray, jsonRecord } from "../db/validate";
import { operation, recordEvent } from "./context";
import { computeDelta, type Connection, type Finding, type ProfileDelta } from "./delta";
import type { IInsertProfileResult } from "./queries/profiles.queries";
import { sql } from "./sql";

export type Profile = Omit<IInsertProfileResult, "delta" | "findings" | "connections"> & {
  findings: Finding[];
  connections: Connection[];
  delta: ProfileDelta | null;
};

/** The jsonb columns hold what profileSchema (and computeDelta) wrote: typed here once. */
const asProfile = (row: IInsertProfileResult) => row as unknown as Profile;

const finding = z.looseObject({ id: z.string().min(1).max(200) });
const connection = z.looseObject({ entity_id: z.uuid(), relation_type: z.string().min(1).max(100) });

const profileSchema = z.object({
  entityId: z.uuid(),
  triggerType: z.enum(["screening", "monitoring", "manual"]),
  triggerId: z.uuid().nullable().default(null),
  findings: z
    .array(finding)
    .max(100_000)
    .refine((fs) => new Set(fs.map((f) => f.id)).size === fs.length, "finding ids must be unique"),
  riskScore: jsonRecord,
  connections: z.array(connection).default([]),
  dataSourcesUsed: jsonArray.default([]),
  staleDataUsed: jsonArray.default([]),
  evolutionSignals: jsonRecord.default({}),
});

const entityId = z.object({ entityId: z.uuid() });

/** Write the next version of an entity's profile, with its delta against the previous one. */
export const createProfileVersion = operation({
  name: "screening.profile.create",
  input: profileSchema,
  kind: "write",
  affects: "tenant",
  context: "tenant",
  reveals: "personal",
  audit: "change",
  async run(p, { c, ctx, db }) {
    await one(sql.entities.lockEntity, { tenantId: ctx.tenantId, entityId: p.entityId }, c, "entity not found or deleted");
    const prevRow = await maybeOne(sql.profiles.latestProfile, { tenantId: ctx.tenantId, entityId: p.entityId }, c);
    const prev = prevRow && asProfile(prevRow);
    const version = prev ? prev.version + 1 : 1;
    const delta = prev
      ? computeDelta(
          { findings: prev.findings, risk_score: prev.risk_score as Record<string, unknown>, connections: prev.connections },
          { findings: p.findings as Finding[], risk_score: p.riskScore, connections: p.connections as Connection[] },
        )
      : null;
    const row = await one(
      sql.profiles.insertProfile,
      {
        tenantId: ctx.tenantId,
        entityId: p.entityId,
        version,
        previousVersion: prev?.version,
        triggerType: p.triggerType,
        triggerId: p.triggerId,
        findings: JSON.stringify(p.findings),
        riskScore: JSON.stringify(p.riskScore),
        connections: JSON.stringify(p.connections),
        connectionCount: p.connections.length,
        dataSourcesUsed: JSON.stringify(p.dataSourcesUsed),
        staleDataUsed: JSON.stringify(p.staleDataUsed),
        delta: delta && JSON.stringify(delta),
        evolutionSignals: JSON.stringify(p.evolutionSignals),
      },
      c,
    );
    await recordEvent(c, db, ctx, "profile_created", { entityId: p.entityId, details: { version, trigger_type: p.triggerType } });
    return asProfile(row);
  },
});

/** The entity's newest profile version, or null. */
export const latestProfile = operation({
  name: "screening.profile.latest",
  input: entityId,
  kind: "read",
  context: "tenant",
  reveals: "personal",
  audit: "access",
  async run(p, { c, ctx }) {
    const row = await maybeOne(sql.profiles.latestProfile, { tenantId: ctx.tenantId, ...p }, c);
    return row && asProfile(row);
  },
  accessed: (p) => ({ subject: p.entityId }),
});

/** One version of the entity's profile. */
export const profileVersion = operation({
  name: "screening.profile.version",
  input: entityId.extend({ version: z.number().int().min(1).max(2_147_483_647) }),
  kind: "read",
  context: "tenant",
  reveals: "personal",
  audit: "access",
  async run(p, { c, ctx }) {
    return asProfile(await one(sql.profiles.profileByVersion, { tenantId: ctx.tenantId, ...p }, c, `profile version ${p.version} not found`));
  },
  accessed: (p) => ({ subject: p.entityId, details: { version: p.version } }),
});

/** The entity's profile versions, newest first (risk score, connection count and delta of each). */
export const profileHistory = operation({
  name: "screening.profile.history",
  input: entityId.extend({ limit: z.number().int().min(1).max(1000).default(100) }),
  kind: "read",
  context: "tenant",
  reveals: "personal",
  audit: "access",
  run: (p, { c, ctx }) => many(sql.profiles.profileHistory, { tenantId: ctx.tenantId, ...p }, c),
  accessed: (p) => ({ subject: p.entityId }),
});
