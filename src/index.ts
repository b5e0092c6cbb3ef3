/**
 * What an application imports: the three domains' operations (each `(db, ctx, input)`), the connection,
 * the typed errors and the platform context. `operations()` lists every declared operation.
 */
export * as core from "./core";
export { connect, type Db } from "./db/connect";
export * from "./db/errors";
export { type Declaration, type Operation, operations, type PlatformContext, platformContext, type RegisteredOperation } from "./db/operation";
export * as screening from "./screening";
export * as wills from "./wills";
export * as workspace from "./workspace";
