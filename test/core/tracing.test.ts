/**
 * Observability: each operation runs in an OpenTelemetry span named by the operation, with a child span per
 * named query; no span carries an input value (inputs are personal data). Uses the SDK's in-memory exporter;
 * without an SDK, @opentelemetry/api is a no-op.
 */
import crypto from "node:crypto";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { context, SpanStatusCode, trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ValidationError } from "../../src/db/errors";
import { platformContext } from "../../src/db/operation";
import * as screening from "../../src/screening";
import { useTestDb } from "../support/db";

const t = useTestDb();
const exporter = new InMemorySpanExporter();
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
});
afterAll(() => {
  trace.disable();
  context.disable();
});

const parentId = (s: ReadableSpan) => s.parentSpanContext?.spanId;
/** Every string an exported span holds: its name, attribute keys and values, status message, event names and attributes. */
const strings = (s: ReadableSpan) => [
  s.name,
  ...Object.entries(s.attributes).flat().map(String),
  s.status.message ?? "",
  ...s.events.flatMap((e) => [
    e.name,
    ...Object.entries(e.attributes ?? {})
      .flat()
      .map(String),
  ]),
];

describe("tracing", () => {
  it("one call is a span named by the operation, with its named queries as children and no input value anywhere", async () => {
    const tenant = await screening.createTenant(t.db, platformContext(), { slug: `trace-${crypto.randomBytes(3).toString("hex")}`, name: "Trace Ltd" });
    const ctx = screening.requestContext({ tenantId: tenant.tenant_id, actorId: crypto.randomUUID(), correlationId: crypto.randomUUID() });
    const ssn = String(100_000_000 + crypto.randomInt(899_999_999));
    const passport = `P${crypto.randomBytes(6).toString("hex")}`;
    exporter.reset();

    const entity = await screening.createEntity(t.db, ctx, { entityType: "individual", identifiers: { ssn, passport } });
    const spans = exporter.getFinishedSpans();
    const root = spans.find((s) => s.name === "screening.entity.create") as ReadableSpan;
    expect(root, spans.map((s) => s.name).join(", ")).toBeDefined();
    expect(parentId(root)).toBeUndefined();
    expect(root.attributes).toMatchObject({ "app.operation": "screening.entity.create", "app.operation.kind": "write", "app.domain": "screening" });
    expect(root.status.code).toBe(SpanStatusCode.OK);
    const children = spans.filter((s) => parentId(s) === root.spanContext().spanId);
    // The entity row, the caller's tenant's link to it (issue 14), its blind indexes, the audit event, and the
    // entity read back through the link.
    expect(children.map((s) => s.name)).toEqual([
      "screening.entities.newEntityId",
      "screening.entities.insertEntity",
      "screening.entities.linkEntity",
      "screening.entities.insertIdentifiers",
      "screening.audit.insertAuditEvent",
      "screening.entities.entityById",
    ]);
    for (const c of children) expect(c.attributes).toMatchObject({ "db.system.name": "postgresql", "db.query.name": c.name });
    console.log(`[tracing] ${root.name}\n${children.map((c) => `  └ ${c.name} (${c.attributes["db.response.returned_rows"]} row)`).join("\n")}`);

    const secrets = [ssn, passport, passport.toUpperCase(), entity.entity_id, tenant.tenant_id, ctx.actorId as string, ctx.correlationId];
    for (const s of spans) for (const text of strings(s)) for (const secret of secrets) expect(text, `${s.name} carries an input value`).not.toContain(secret);
  });

  it("a failed call's span is an error with the error code, and the failure record's query is under it", async () => {
    const tenant = await screening.createTenant(t.db, platformContext(), { slug: `trace-f-${crypto.randomBytes(3).toString("hex")}`, name: "Trace Ltd" });
    const ctx = screening.requestContext({ tenantId: tenant.tenant_id, actorId: null, correlationId: crypto.randomUUID() });
    exporter.reset();
    const bad = "not-a-uuid-but-a-secret-value";
    await expect(screening.getEntity(t.db, ctx, { entityId: bad })).rejects.toBeInstanceOf(ValidationError);
    const spans = exporter.getFinishedSpans();
    const root = spans.find((s) => s.name === "screening.entity.get") as ReadableSpan;
    expect(root.status).toEqual({ code: SpanStatusCode.ERROR, message: "validation" });
    expect(root.attributes["app.error.code"]).toBe("validation");
    expect(spans.filter((s) => parentId(s) === root.spanContext().spanId).map((s) => s.name)).toEqual(["screening.audit.insertAuditEvent"]);
    for (const s of spans) for (const text of strings(s)) expect(text).not.toContain(bad);
  });
});
