/** Shared set-up for the workspace tests: organisations with members, contexts, deterministic embeddings. */
import crypto from "node:crypto";
import type { Db } from "../../src/db/connect";
import { createOrganization, createUser, EMBEDDING_DIMENSIONS, type User, type WorkspaceContext, workspaceContext } from "../../src/workspace";

export interface Org {
  id: string;
  /** Context of the organisation with no acting user (organisation-level jobs). */
  system: WorkspaceContext;
  users: User[];
  /** Context acting as users[i]. */
  as: (i: number) => WorkspaceContext;
}

export async function makeOrg(db: Db, members = 2, label = "org"): Promise<Org> {
  const tag = crypto.randomBytes(4).toString("hex");
  const org = await createOrganization(db, { name: `${label} ${tag}`, slug: `${label}-${tag}` });
  const system = workspaceContext({ organizationId: org.id, userId: null });
  const users: User[] = [];
  for (let i = 0; i < members; i++) users.push(await createUser(db, system, { email: `user${i}.${tag}@example.com`, displayName: `User ${i}` }));
  const contexts = users.map((u) => workspaceContext({ organizationId: org.id, userId: u.id }));
  return { id: org.id, system, users, as: (i) => contexts[i] as WorkspaceContext };
}

/** A seeded PRNG (mulberry32), so vector data sets are the same on every run. */
export function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomVector(next: () => number, dims = EMBEDDING_DIMENSIONS): number[] {
  return Array.from({ length: dims }, () => next() * 2 - 1);
}

export function cosineDistance(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += (a[i] as number) * (b[i] as number);
    na += (a[i] as number) ** 2;
    nb += (b[i] as number) ** 2;
  }
  return 1 - dot / Math.sqrt(na * nb);
}
