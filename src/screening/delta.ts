/** ProfileDelta: what changed between two profile versions (pure; unit-tested without a database). */

export interface Finding {
  id: string;
  [k: string]: unknown;
}
export interface Connection {
  entity_id: string;
  relation_type: string;
  [k: string]: unknown;
}

export interface ProfileDelta {
  findings_added: string[];
  findings_removed: string[];
  findings_changed: string[];
  risk_score: { previous: unknown; current: unknown; change: number | null } | null;
  connections_added: string[];
  connections_removed: string[];
}

/** JSON with object keys sorted, so equal values compare equal whatever their key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

const connKey = (c: Connection) => `${c.entity_id}:${c.relation_type}`;

export function computeDelta(
  prev: { findings: Finding[]; risk_score: Record<string, unknown>; connections: Connection[] },
  next: { findings: Finding[]; risk_score: Record<string, unknown>; connections: Connection[] },
): ProfileDelta {
  const before = new Map(prev.findings.map((f) => [f.id, canonical(f)]));
  const after = new Map(next.findings.map((f) => [f.id, canonical(f)]));
  const prevConn = new Set(prev.connections.map(connKey));
  const nextConn = new Set(next.connections.map(connKey));
  const riskChanged = canonical(prev.risk_score) !== canonical(next.risk_score);
  // Seed 001 writes the overall risk as {"overall": 0.1}; this service's callers have used {"score": 55}: read either.
  const score = (r: Record<string, unknown>) => (typeof r.overall === "number" ? r.overall : typeof r.score === "number" ? r.score : null);
  const a = score(prev.risk_score);
  const b = score(next.risk_score);
  return {
    findings_added: [...after.keys()].filter((id) => !before.has(id)).sort(),
    findings_removed: [...before.keys()].filter((id) => !after.has(id)).sort(),
    findings_changed: [...after.keys()].filter((id) => before.has(id) && before.get(id) !== after.get(id)).sort(),
    risk_score: riskChanged ? { previous: prev.risk_score, current: next.risk_score, change: a !== null && b !== null ? b - a : null } : null,
    connections_added: [...nextConn].filter((k) => !prevConn.has(k)).sort(),
    connections_removed: [...prevConn].filter((k) => !nextConn.has(k)).sort(),
  };
}
