/** The screening domain service (seeds 000-002). Every call takes a frozen RequestContext. */
export * from "./audit";
export * from "./cache";
export * from "./context";
export * from "./delta";
export * from "./entities";
export * from "./profiles";
export * from "./relations";
export * from "./tenants";
export * from "./rotation";
