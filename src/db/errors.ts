/**
 * Typed errors for the service layer, and the one place that maps PostgreSQL SQLSTATEs to them.
 *
 * Callers never see a raw driver error: a database failure becomes one of the classes below, carrying the
 * SQLSTATE and the constraint/table/column PostgreSQL named, with a message a person can act on. Messages
 * never echo the offending value (PostgreSQL's DETAIL does, and values here are often PII), so errors are
 * safe to log.
 */

export type ErrorCode =
  "validation" | "conflict" | "not_found" | "still_referenced" | "forbidden" | "append_only" | "timeout" | "unavailable" | "config" | "decryption" | "database";

export interface DbErrorFields {
  sqlstate?: string;
  constraint?: string;
  table?: string;
  schema?: string;
  column?: string;
}

export abstract class AppError extends Error {
  abstract readonly code: ErrorCode;
  readonly sqlstate?: string;
  readonly constraint?: string;
  readonly table?: string;
  readonly column?: string;
  constructor(message: string, fields: DbErrorFields = {}) {
    super(message);
    this.name = new.target.name;
    this.sqlstate = fields.sqlstate;
    this.constraint = fields.constraint;
    this.table = fields.schema && fields.table ? `${fields.schema}.${fields.table}` : fields.table;
    this.column = fields.column;
  }
}

/** Input rejected: by zod before SQL (field names the input path) or by a CHECK/NOT NULL/type in SQL. */
export class ValidationError extends AppError {
  readonly code = "validation" as const;
  /** The input field(s) or column(s) at fault. */
  readonly fields: string[];
  constructor(message: string, fields: string[] = [], db: DbErrorFields = {}) {
    super(message, db);
    this.fields = fields;
  }
}
/** A UNIQUE/exclusion constraint, or a concurrent change that still failed after the allowed retries. */
export class ConflictError extends AppError {
  readonly code: ErrorCode = "conflict";
}
/** The row asked for (or referenced by a new row) does not exist or is not visible to this tenant. */
export class NotFoundError extends AppError {
  readonly code = "not_found" as const;
}
/** A delete or key change refused because other rows still reference the row (FK without CASCADE). */
export class StillReferencedError extends ConflictError {
  override readonly code = "still_referenced" as const;
}
/** Missing privilege or a row-level security policy refused the row. */
export class ForbiddenError extends AppError {
  readonly code: ErrorCode = "forbidden";
}
/** UPDATE, DELETE or TRUNCATE on an append-only table (core.reject_mutation, SQLSTATE AO001). */
export class AppendOnlyError extends ForbiddenError {
  override readonly code = "append_only" as const;
}
/** Statement timeout, lock timeout or pool acquire timeout. */
export class TimeoutError extends AppError {
  readonly code = "timeout" as const;
}
/** The database cannot be reached or went away. */
export class UnavailableError extends AppError {
  readonly code = "unavailable" as const;
}
/** Invalid configuration; `problems` lists each bad variable. */
export class ConfigError extends AppError {
  readonly code = "config" as const;
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.problems = problems;
  }
}
/** Any other database error, still typed and without the raw driver object. */
export class DatabaseError extends AppError {
  readonly code = "database" as const;
}

/** SQLSTATE raised by core.reject_mutation() (class "AO" is not used by PostgreSQL). */
export const SQLSTATE_APPEND_ONLY = "AO001";
/** SQLSTATE a domain's context check raises for a tenant that is unknown or deactivated (class "TN" is ours). */
export const SQLSTATE_TENANT_NOT_LIVE = "TN001";
/** SQLSTATE a domain raises when a change would leave a tenant without an owner (class "OW" is ours). */
export const SQLSTATE_LAST_OWNER = "OW001";

interface PgErrorLike {
  code?: unknown;
  message?: unknown;
  constraint?: unknown;
  table?: unknown;
  schema?: unknown;
  column?: unknown;
  dataType?: unknown;
}

const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);

function isPgError(e: unknown): e is PgErrorLike & { code: string } {
  return (
    typeof e === "object" &&
    e !== null &&
    typeof (e as PgErrorLike).code === "string" &&
    /^[0-9A-Z]{5}$/.test((e as PgErrorLike).code as string) &&
    "severity" in e
  );
}

/** PostgreSQL's message without any quoted value it may carry (`... for type uuid: "abc"`). */
function withoutValue(message: string): string {
  return message.replace(/:\s*".*"$/s, "").replace(/\s+$/, "");
}

const CONNECTION_ERRNOS = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH"]);

/**
 * Map anything thrown by `pg` to a typed AppError. Errors that are not from the database (a bug in our
 * code, say) are returned unchanged so they are not disguised.
 */
export function mapDbError(e: unknown): unknown {
  if (e instanceof AppError) return e;
  if (isPgError(e)) {
    const f: DbErrorFields = {
      sqlstate: e.code,
      constraint: str(e.constraint),
      table: str(e.table),
      schema: str(e.schema),
      column: str(e.column),
    };
    const where = f.table ? ` on ${f.schema ? `${f.schema}.` : ""}${f.table}` : "";
    const msg = typeof e.message === "string" ? e.message : "";
    switch (e.code) {
      case "23505":
        return new ConflictError(`duplicate value violates unique constraint "${f.constraint}"${where}`, f);
      case "23P01":
        return new ConflictError(`conflicting row violates exclusion constraint "${f.constraint}"${where}`, f);
      case "23001": // restrict_violation: ON DELETE RESTRICT (PostgreSQL 18 reports it separately)
        return new StillReferencedError(`row${where} is still referenced (foreign key "${f.constraint}")`, f);
      case "23503":
        // PostgreSQL reports both sides of a foreign key with this code; the message tells which.
        return msg.startsWith("update or delete")
          ? new StillReferencedError(`row${where} is still referenced (foreign key "${f.constraint}")`, f)
          : new NotFoundError(`referenced row does not exist (foreign key "${f.constraint}"${where})`, f);
      case "23514":
        return new ValidationError(f.constraint ? `check constraint "${f.constraint}"${where} rejected the row` : withoutValue(msg), [], f);
      case "23502":
        return new ValidationError(`column "${f.column}"${where} must not be null`, f.column ? [f.column] : [], f);
      case "22001":
      case "22003":
      case "22007":
      case "22008":
      case "22021":
      case "22023":
      case "22P02":
      case "22P05":
      case "2202E":
      case "22004":
      case "22012":
      case "22025":
      case "22030":
      case "22032":
        return new ValidationError(`invalid input: ${withoutValue(msg)}`, f.column ? [f.column] : [], f);
      case "42501":
        return new ForbiddenError(withoutValue(msg) || "permission denied", f);
      case SQLSTATE_APPEND_ONLY:
        return new AppendOnlyError(msg, f);
      case SQLSTATE_TENANT_NOT_LIVE:
        return new ForbiddenError("the tenant is unknown or deactivated", f);
      case SQLSTATE_LAST_OWNER:
        return new ConflictError(`an organisation must keep at least one owner (constraint "${f.constraint}")`, f);
      case "40001":
      case "40P01":
        return new ConflictError("the transaction conflicted with a concurrent one and was retried too often", f);
      case "57014":
        return new TimeoutError("statement cancelled: statement_timeout reached or the query was cancelled", f);
      case "55P03":
        return new TimeoutError("could not obtain a lock in time (lock_timeout)", f);
      case "53300":
      case "57P01":
      case "57P02":
      case "57P03":
        return new UnavailableError(`database unavailable: ${msg}`, f);
      default:
        if (e.code.startsWith("08")) return new UnavailableError(`database connection failure: ${msg}`, f);
        return new DatabaseError(`database error ${e.code}: ${withoutValue(msg)}`, f);
    }
  }
  if (e instanceof Error) {
    const errno = (e as NodeJS.ErrnoException).code;
    if ((errno && CONNECTION_ERRNOS.has(errno)) || /Connection terminated|connection timeout|Client has encountered a connection error/i.test(e.message)) {
      return new UnavailableError(`database unavailable: ${e.message}`);
    }
    if (/timeout exceeded when trying to connect/i.test(e.message)) {
      return new TimeoutError("timed out waiting for a database connection from the pool");
    }
    if (/Query read timeout/i.test(e.message)) {
      return new TimeoutError("query timed out on the client (query_timeout)");
    }
  }
  return e;
}
