/**
 * `make explain` (src/tools/explain.ts): core fills no tables; it supplies the values every domain's queries
 * share (this month as a time range, a page size, a correlation id) and the partition functions' parameters.
 */
import crypto from "node:crypto";
import type { ExplainSeed } from "../tools/explain";

export const explainSeed: ExplainSeed = {
  order: 0,
  async seed() {},
  async params() {
    const now = new Date();
    const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    return { shared: { correlationId: crypto.randomUUID(), from, to, limit: 100, monthsAhead: 3, parent: "wills.audit_logs" } };
  },
};
