/**
 * Versioned profiles. A new version is made under a row lock on its entity (SELECT ... FOR NO KEY
 * UPDATE), so concurrent writers for one entity queue and get versions 1, 2, 3, ... with no gap and no
 * error; the UNIQUE (entity_id, version) index backs that up. The delta against the previous version is
 * computed in the same transaction.
 */
import { z } from "zod";
import type { Db } from "../db/connect";
import { NotFoundError } from "../db/errors";
import { jsonArray, jsonRecord } from "../db/validate";
import { type RequestContext, recordEvent, runParsed } from "./context";
import { computeDelta, type Connection, type Finding, type ProfileDelta } from "./delta";
import { lockEntity } from "./queries/entities.queries";
import { type IInsertProfileResult, insertProfile, latestProfile, profileByVersion, profileHistory } from "./queries/profiles.queries";

export type Profile = Omit<IInsertProfileResult, "delta" | "findings" | "connections"> & {
  findings: Finding[];
  connections: Connection[];
  delta: ProfileDelta | null;
};

const finding = z.looseObject({ id: z.string().min(1).max(200) });
const connection = z.looseObject({ entity_id: z.uuid(), relation_type: z.string().min(1).max(100) });

const profileSchema = z.object({
  entityId: z.uuid(),
  triggerType: z.enum(["screening", "monitoring", "manual"]),
  triggerId: z.uuid().nullable().default(null),
  findings: z.array(finding).max(100_000).refine((fs) => new Set(fs.map((f) => f.id)).size === fs.length, "finding ids must be unique"),
  riskScore: jsonRecord,
  connections: z.array(connection).default([]),
  dataSourcesUsed: jsonArray.default([]),
  staleDataUsed: jsonArray.default([]),
  evolutionSignals: jsonRecord.default({}),
});

export function createProfileVersion(db: Db, ctx: RequestContext, input: z.input<typeof profileSchema>): Promise<Profile> {
  return runParsed(db, ctx, "profile.create", profileSchema, input, async (p, c) => {
    const [locked] = await lockEntity.run({ entityId: p.entityId }, c);
    if (!locked) throw new NotFoundError("entity not found or deleted");
    const [prev] = (await latestProfile.run({ entityId: p.entityId }, c)) as unknown as Profile[];
    const version = prev ? prev.version + 1 : 1;
    const delta = prev
      ? computeDelta(
          { findings: prev.findings, risk_score: prev.risk_score as Record<string, unknown>, connections: prev.connections },
          { findings: p.findings as Finding[], risk_score: p.riskScore, connections: p.connections as Connection[] },
        )
      : null;
    const [row] = await insertProfile.run(
      {
        entityId: p.entityId,
        version,
        previousVersion: prev ? prev.version : null,
        triggerType: p.triggerType,
        triggerId: p.triggerId,
        findings: JSON.stringify(p.findings),
        riskScore: JSON.stringify(p.riskScore),
        connections: JSON.stringify(p.connections),
        connectionCount: p.connections.length,
        dataSourcesUsed: JSON.stringify(p.dataSourcesUsed),
        staleDataUsed: JSON.stringify(p.staleDataUsed),
        delta: delta ? JSON.stringify(delta) : null,
        evolutionSignals: JSON.stringify(p.evolutionSignals),
      },
      c,
    );
    await recordEvent(c, db, ctx, "profile_created", { entityId: p.entityId, details: { version, trigger_type: p.triggerType } });
    return row as unknown as Profile;
  });
}

export function latestProfileOf(db: Db, ctx: RequestContext, entityId: string): Promise<Profile | null> {
  return runParsed(db, ctx, "profile.latest", z.object({ entityId: z.uuid() }), { entityId }, async (p, c) => {
    const [row] = await latestProfile.run(p, c);
    return (row as unknown as Profile) ?? null;
  }, { readOnly: true });
}

export function profileVersion(db: Db, ctx: RequestContext, entityId: string, version: number): Promise<Profile> {
  return runParsed(db, ctx, "profile.by_version", z.object({ entityId: z.uuid(), version: z.number().int().min(1).max(2_147_483_647) }), { entityId, version }, async (p, c) => {
    const [row] = await profileByVersion.run(p, c);
    if (!row) throw new NotFoundError(`profile version ${p.version} not found`);
    return row as unknown as Profile;
  }, { readOnly: true });
}

export function profileHistoryOf(db: Db, ctx: RequestContext, entityId: string, limit = 100) {
  return runParsed(db, ctx, "profile.history", z.object({ entityId: z.uuid(), limit: z.number().int().min(1).max(1000) }), { entityId, limit }, (p, c) =>
    profileHistory.run(p, c), { readOnly: true });
}
