/** The wills domain service: POPIA consent, the versioned clause library, and its audit trail. */
export * from "./audit";
export * from "./clauses";
export * from "./consent";
