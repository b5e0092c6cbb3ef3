/**
 * The operation contract. Every public service function of every domain is declared once with the
 * `operation` function of its domain (see `defineDomain`): its name, its input schema, whether it reads or
 * writes, the context it needs, the permission it requires, what its result reveals and how it is audited.
 * The declaration becomes a function called the same way everywhere, `(db, ctx, input)`, which:
 *
 *   1. opens an OpenTelemetry span named by the operation (a no-op unless the application installs an SDK;
 *      attributes name the operation, never an input value: inputs are personal data);
 *   2. validates the input with the declared zod schema (a ValidationError names the fields, no values);
 *   3. admits the context (e.g. an acting user where the operation needs one);
 *   4. runs the body in the domain's transaction (a tenant transaction as `app`, so RLS applies);
 *   5. for `audit: "access"`, writes the domain's data-access record in that same transaction;
 *   6. on any failure, writes the domain's failure record in a SEPARATE transaction (the failed one rolled
 *      back) and rethrows the original error.
 *
 * Every declared operation is kept in one registry (`operations()`); tests derive from it (bad input for
 * every operation, audit and permission rules). See CONVENTIONS.md.
 */
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import crypto from "node:crypto";
import type pg from "pg";
import { z } from "zod";
import type { Db } from "./connect";
import { AppError } from "./errors";
import { consistencyKey } from "./replicas";
import { commitBehindNext, type TxOptions } from "./tx";
import { parseInput } from "./validate";

/** The tracer every operation and named query reports to (no-op until an SDK is registered). */
export const tracer = trace.getTracer("pg-foundation");

/** What the caller must be: a tenant (organisation) member, an acting user, a named actor, or the platform. */
export type ContextNeed = "tenant" | "user" | "actor" | "platform";

/**
 * What a result reveals:
 * - `nothing`: ids, counts, flags about the caller's own call;
 * - `own`: the acting user's own data;
 * - `tenant`: the tenant's (organisation's) working data, seen by its members;
 * - `personal`: personal information about data subjects (people screened, will clients): every read of
 *   it must leave a data-access record (`audit: "access"`).
 */
export type Reveals = "nothing" | "own" | "tenant" | "personal";

/** What a write changes: the caller's own data, the tenant's shared data, organisation-wide settings and membership, or the platform. */
export type Affects = "own" | "tenant" | "organization" | "platform";

/**
 * How a successful call is audited: `change` (the operation writes the domain's change record itself, in
 * its transaction), `access` (the runner writes the domain's data-access record in the same transaction),
 * or `none`. Failures are always recorded, by the runner, whatever this says.
 */
export type AuditMode = "change" | "access" | "none";

/** What a data-access record says: whose data (if one subject) and a few non-personal details. */
export interface AccessRecord {
  subject?: string | null;
  details?: Record<string, unknown>;
}

/** What a failure record says: the operation and the error's code, never its values. */
export type FailureDetails =
  | { operation: string; code: string; sqlstate: string | null; constraint: string | null; fields: readonly string[] | null }
  | { operation: string; code: "internal" };

export function failureDetails(operation: string, e: unknown): FailureDetails {
  return e instanceof AppError
    ? {
        operation,
        code: e.code,
        sqlstate: e.sqlstate ?? null,
        constraint: e.constraint ?? null,
        fields: "fields" in e ? (e.fields as readonly string[]) : null,
      }
    : { operation, code: "internal" };
}

/** What the body of an operation receives besides its parsed input. */
export interface Call<Ctx> {
  /** The transaction's connection. */
  c: pg.PoolClient;
  ctx: Ctx;
  db: Db;
}

interface DeclarationBase<S extends z.ZodType, Ctx, R> {
  /** `<domain>.<resource>.<verb>`, e.g. `<domain>.entity.get`; unique across the registry. */
  name: string;
  input: S;
  context: ContextNeed;
  /**
   * The permission the caller must hold (`resource:action`), if any: the domain checks it in the
   * operation's own transaction (see Domain.transaction), so a grant revoked a moment ago no longer counts.
   */
  permission?: string;
  reveals: Reveals;
  audit: AuditMode;
  /** For `audit: "access"`: what the record names; return null when nothing was revealed (e.g. not found). Default: no subject. */
  accessed?(input: z.output<S>, result: NoInfer<R>): AccessRecord | null;
  /** Transaction options (isolation level). Read-only is derived from `kind` and `audit`. */
  tx?: Pick<TxOptions, "isolation">;
  /**
   * The body sends exactly one statement (reads only): on a pipelined pool COMMIT rides with it, so the call
   * is one round trip. A second statement from the body is refused (an Error), so a wrong declaration shows.
   */
  oneStatement?: true;
  /** Per-call transaction-local settings from the input (e.g. hnsw.ef_search), sent with BEGIN: no round trip of their own. */
  settings?(input: z.output<S>): Record<string, string>;
  /**
   * For `audit: "access"` with `oneStatement`: the body's statement writes the data-access record itself (a
   * data-modifying CTE that inserts it only when it reveals a row), so the runner writes none and the call
   * is one round trip. The registry test checks such reads still leave exactly one record.
   */
  accessInStatement?: true;
  run(input: z.output<S>, call: Call<Ctx>): Promise<R>;
}

export type Declaration<S extends z.ZodType = z.ZodType, Ctx = unknown, R = unknown> =
  (DeclarationBase<S, Ctx, R> & { kind: "read"; affects?: never }) | (DeclarationBase<S, Ctx, R> & { kind: "write"; affects: Affects });

/** The input argument: optional when the schema accepts an empty object. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- "{}" is exactly "an empty input object is acceptable"
type InputArgs<S extends z.ZodType> = {} extends z.input<S> ? [input?: z.input<S>] : [input: z.input<S>];

export type Operation<S extends z.ZodType = z.ZodType, Ctx = never, R = unknown> = ((db: Db, ctx: Ctx, ...input: InputArgs<S>) => Promise<R>) & {
  readonly declaration: Declaration<S, Ctx, R>;
  readonly domain: string;
};

/** How a domain runs its operations: its transaction, context checks and audit records. */
export interface Domain<Ctx> {
  name: string;
  /**
   * Run `fn` in this domain's transaction for the context (as `app`; with tenant/user settings for RLS).
   * `declaration` is the operation's, when an operation runs (absent for the failure record's transaction):
   * a domain that enforces permissions checks `declaration.permission` in the transaction (TxOptions.check).
   */
  transaction<T>(db: Db, ctx: Ctx, fn: (c: pg.PoolClient) => Promise<T>, opts: TxOptions, declaration?: Declaration<z.ZodType, Ctx, unknown>): Promise<T>;
  /** Refuse a context that cannot call this operation (e.g. no acting user where one is needed); throw a typed error. */
  admit?(ctx: Ctx, declaration: Declaration<z.ZodType, Ctx, unknown>): void;
  /** Write the failure record on `c` (a transaction of its own); its own failure is ignored. Omitted: failures of this scope have nowhere to go (say why). */
  recordFailure?(c: pg.PoolClient, db: Db, ctx: Ctx, details: FailureDetails): Promise<unknown>;
  /** Write a data-access record in the operation's transaction (required by `audit: "access"`). */
  recordAccess?(c: pg.PoolClient, db: Db, ctx: Ctx, operation: string, record: AccessRecord): Promise<unknown>;
}

/** Any declared operation, as the registry holds it (call it through its domain's typed export). */
export interface RegisteredOperation {
  readonly declaration: Declaration<z.ZodType, never, unknown>;
  readonly domain: string;
}

const REGISTRY = new Map<string, RegisteredOperation>();

/** Every operation declared so far (import the domains first: `src/index.ts` imports them all). */
export function operations(): RegisteredOperation[] {
  return [...REGISTRY.values()];
}

const NAME = /^[a-z]+\.[a-z_]+\.[a-z_]+$/;
const PERMISSION = /^[a-z][a-z_]*:[a-z][a-z_]*$/;

/** The `operation` declaration function of one domain (or of its platform scope). */
export function defineDomain<Ctx>(domain: Domain<Ctx>) {
  return function operation<S extends z.ZodType, R>(declaration: Declaration<S, Ctx, R>): Operation<S, Ctx, R> {
    const d = declaration;
    if (!NAME.test(d.name) || !d.name.startsWith(`${domain.name}.`)) throw new Error(`operation name ${d.name} must be ${domain.name}.<resource>.<verb>`);
    if (REGISTRY.has(d.name)) throw new Error(`operation ${d.name} is declared twice`);
    if (d.audit === "access" && !domain.recordAccess) throw new Error(`operation ${d.name} audits access, but ${domain.name} has no access record`);
    if (d.oneStatement && d.kind !== "read") throw new Error(`operation ${d.name}: oneStatement is for reads (nothing after the statement may undo it)`);
    if (d.accessInStatement && !(d.audit === "access" && d.oneStatement))
      throw new Error(`operation ${d.name}: accessInStatement needs audit "access" and oneStatement`);
    if (d.oneStatement && d.audit === "access" && !d.accessInStatement)
      throw new Error(`operation ${d.name}: the runner's access record would be a second statement: declare accessInStatement or drop oneStatement`);
    if (d.permission !== undefined && !PERMISSION.test(d.permission))
      throw new Error(`operation ${d.name}: permission ${d.permission} must be resource:action`);
    const readOnly = d.kind === "read" && d.audit !== "access";
    const attributes = { "app.operation": d.name, "app.operation.kind": d.kind, "app.domain": domain.name };

    async function fail(db: Db, ctx: Ctx, e: unknown) {
      if (!domain.recordFailure) return;
      try {
        await domain.transaction(db, ctx, (c) => domain.recordFailure!(c, db, ctx, failureDetails(d.name, e)), {});
      } catch {
        // Recording the failure must never hide it; the caller gets the original error.
      }
    }

    const fn = (db: Db, ctx: Ctx, input?: unknown): Promise<R> =>
      tracer.startActiveSpan(d.name, { kind: SpanKind.INTERNAL, attributes }, async (span) => {
        try {
          const p = parseInput(d.input, input === undefined ? {} : input, d.name);
          domain.admit?.(ctx, d as Declaration<z.ZodType, Ctx, unknown>);
          const result = await domain.transaction(
            db,
            ctx,
            async (c) => {
              const r = await d.run(p, { c, ctx, db });
              if (d.audit === "access" && !d.accessInStatement) {
                const rec = d.accessed ? d.accessed(p, r) : {};
                if (rec) {
                  // The access record is the transaction's last statement: COMMIT rides with it (pipelined pools).
                  commitBehindNext(c);
                  await domain.recordAccess!(c, db, ctx, d.name, rec);
                }
              }
              return r;
            },
            {
              ...d.tx,
              readOnly,
              oneStatement: d.oneStatement === true,
              settings: d.settings?.(p),
              // With replicas: read-only calls may go to one that has this caller's writes (src/db/replicas.ts).
              consistencyKey: db.replicas ? consistencyKey(ctx) : undefined,
            },
            d as Declaration<z.ZodType, Ctx, unknown>,
          );
          span.setStatus({ code: SpanStatusCode.OK });
          return result;
        } catch (e) {
          const code = e instanceof AppError ? e.code : "internal";
          span.setAttribute("app.error.code", code);
          span.setStatus({ code: SpanStatusCode.ERROR, message: code });
          await fail(db, ctx, e);
          throw e;
        } finally {
          span.end();
        }
      });

    const op = Object.assign(fn, { declaration: d, domain: domain.name }) as unknown as Operation<S, Ctx, R>;
    REGISTRY.set(d.name, op as unknown as RegisteredOperation);
    return op;
  };
}

/**
 * The client a batch job's body gets: none. A job that commits per batch (a sweep, a key rotation) runs in
 * no surrounding transaction and opens its own with `db.transaction` / `db.tenant`; its domain's
 * `transaction` is `perBatch`.
 */
const NO_CLIENT = new Proxy({} as pg.PoolClient, {
  get() {
    throw new Error("this operation commits per batch: open its transactions with db.transaction or db.tenant");
  },
});

/**
 * The `operation` function of a domain's platform operations (creating tenants or organisations, resolving
 * session tokens, publishing a policy version, partitions): the owner connection, no tenant, and no failure
 * trail to write to (the records are per tenant); the operation's span records a failure.
 */
export function platformDomain(name: string) {
  return defineDomain<PlatformContext>({ name, transaction: (db, _ctx, fn, opts) => db.transaction(fn, opts) });
}

/** Domain.transaction for batch jobs: run the body without a surrounding transaction (see NO_CLIENT). */
export function perBatch<T>(_db: Db, _ctx: unknown, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  return fn(NO_CLIENT);
}

const platformSchema = z.object({ actorId: z.uuid().nullable().default(null), correlationId: z.uuid().default(() => crypto.randomUUID()) });

/**
 * The context of a platform operation (creating a tenant or organisation, resolving a session token,
 * sweeps and key rotation): no tenant yet, so it runs on the owner connection. Who asked, for the records.
 */
export type PlatformContext = Readonly<z.output<typeof platformSchema>>;

export function platformContext(input: z.input<typeof platformSchema> = {}): PlatformContext {
  return Object.freeze(parseInput(platformSchema, input, "platform context"));
}
