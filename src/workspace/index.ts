/** The workspace service (seed 003): every function takes a Db and a WorkspaceContext (organisation + acting user). */
export * from "./audit";
export * from "./context";
export * from "./conversations";
export * from "./devices";
export * from "./documents";
export * from "./integrations";
export * from "./knowledge";
export * from "./memories";
export * from "./rbac";
export * from "./tasks";
export * from "./users";
