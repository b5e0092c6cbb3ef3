import { describe, expect, it } from "vitest";
import { computeDelta } from "../../src/screening/delta";

describe("computeDelta", () => {
  it("reports findings added, removed and changed, risk change and connection changes", () => {
    const d = computeDelta(
      {
        findings: [
          { id: "a", severity: 1 },
          { id: "b", severity: 2 },
          { id: "c", x: { p: 1, q: 2 } },
        ],
        risk_score: { score: 40, band: "medium" },
        connections: [
          { entity_id: "e1", relation_type: "employer" },
          { entity_id: "e2", relation_type: "household" },
        ],
      },
      {
        findings: [{ id: "b", severity: 3 }, { id: "c", x: { q: 2, p: 1 } }, { id: "d" }],
        risk_score: { score: 65, band: "high" },
        connections: [
          { entity_id: "e2", relation_type: "household" },
          { entity_id: "e3", relation_type: "business_partner" },
        ],
      },
    );
    expect(d).toEqual({
      findings_added: ["d"],
      findings_removed: ["a"],
      findings_changed: ["b"], // c only reordered its keys: unchanged
      risk_score: { previous: { score: 40, band: "medium" }, current: { score: 65, band: "high" }, change: 25 },
      connections_added: ["e3:business_partner"],
      connections_removed: ["e1:employer"],
    });
  });

  it('reads the risk score in seed 001\'s shape ({"overall": 0.1}) as well as {"score": n}', () => {
    const v = (risk_score: Record<string, unknown>) => ({ findings: [], risk_score, connections: [] });
    const seed = computeDelta(v({ overall: 0.1 }), v({ overall: 0.4 }));
    expect(seed.risk_score).toMatchObject({ previous: { overall: 0.1 }, current: { overall: 0.4 } });
    expect(seed.risk_score?.change).toBeCloseTo(0.3, 10);
    expect(computeDelta(v({ score: 40 }), v({ score: 65 })).risk_score?.change).toBe(25);
    // A shape with no number to compare: the change is unknown, not zero.
    expect(computeDelta(v({ band: "low" }), v({ band: "high" })).risk_score?.change).toBeNull();
  });

  it("is empty between identical versions", () => {
    const v = { findings: [{ id: "a" }], risk_score: { score: 1 }, connections: [] };
    expect(computeDelta(v, structuredClone(v))).toEqual({
      findings_added: [],
      findings_removed: [],
      findings_changed: [],
      risk_score: null,
      connections_added: [],
      connections_removed: [],
    });
  });
});
