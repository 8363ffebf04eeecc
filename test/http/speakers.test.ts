import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type RealPipeline, realPipeline, type TempRegistry, tempRegistry } from "../enrolment/helpers.js";
import { errorOf, jsonRequest, makeApp, type TestApp } from "./helpers.js";

let pipeline: RealPipeline;
beforeAll(async () => {
  pipeline = await realPipeline();
});
afterAll(() => pipeline.stop());

let temp: TempRegistry;
let t: TestApp;
beforeEach(async () => {
  temp = await tempRegistry();
  t = makeApp(pipeline, temp);
});
afterEach(() => temp.dispose());

const post = (body: unknown) => t.app.request("/api/speakers", jsonRequest("POST", body));

describe("/api/speakers", () => {
  it("creates, lists, reads, updates and deletes speakers", async () => {
    expect(await (await t.app.request("/api/speakers")).json()).toEqual({ speakers: [] });

    const created = await post({ name: "Zoë O'Brien", threshold: 0.8 });
    expect(created.status).toBe(201);
    const { speaker } = (await created.json()) as { speaker: Record<string, unknown> };
    expect(speaker).toMatchObject({
      id: "zoe-o-brien",
      name: "Zoë O'Brien",
      threshold: 0.8,
      enrolled: false,
      sampleCount: 0,
      samples: [],
    });
    expect(speaker.voiceprints).toEqual({ enrolled: 0, simulated: 0, learned: 0 });

    const list = (await (await t.app.request("/api/speakers")).json()) as { speakers: { id: string }[] };
    expect(list.speakers.map((s) => s.id)).toEqual(["zoe-o-brien"]);

    // By id and by (case-insensitive) name.
    expect((await t.app.request("/api/speakers/zoe-o-brien")).status).toBe(200);
    expect((await t.app.request(`/api/speakers/${encodeURIComponent("zoë o'brien")}`)).status).toBe(200);

    const patched = await t.app.request(
      "/api/speakers/zoe-o-brien",
      jsonRequest("PATCH", { name: "Zoe", threshold: null }),
    );
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({
      speaker: { id: "zoe-o-brien", name: "Zoe", threshold: null },
    });
    expect(temp.registry.get("zoe-o-brien")).toMatchObject({ name: "Zoe" });
    expect(temp.registry.get("zoe-o-brien")?.thresholds).toBeUndefined();

    const deleted = await t.app.request("/api/speakers/zoe-o-brien", { method: "DELETE" });
    expect(deleted.status).toBe(204);
    expect(temp.registry.list()).toEqual([]);
    expect(await errorOf(await t.app.request("/api/speakers/zoe-o-brien"))).toMatchObject({
      status: 404,
      code: "speaker_not_found",
    });
  });

  it("refuses duplicate names (case-insensitive) with 409 and leaves the registry alone", async () => {
    expect((await post({ name: "Alice" })).status).toBe(201);
    expect((await post({ name: "Bob" })).status).toBe(201);
    expect(await errorOf(await post({ name: "ALICE" }))).toMatchObject({
      status: 409,
      code: "speaker_exists",
    });
    const rename = await t.app.request(
      "/api/speakers/bob",
      jsonRequest("PATCH", { name: "alice", threshold: 0.5 }),
    );
    expect(await errorOf(rename)).toMatchObject({ status: 409, code: "speaker_exists" });
    // The threshold of the refused PATCH was not applied either.
    expect(temp.registry.get("bob")).toMatchObject({ name: "Bob" });
    expect(temp.registry.get("bob")?.thresholds).toBeUndefined();
  });

  it("answers bad requests with 400 and a JSON error", async () => {
    const cases: [unknown, string][] = [
      [{ name: "" }, "invalid_speaker_name"],
      [{ name: "a/b" }, "invalid_speaker_name"],
      [{ name: "x".repeat(65) }, "invalid_speaker_name"],
      [{ name: 42 }, "invalid_request"],
      [{}, "invalid_request"],
      [{ name: "Ok", threshold: 1.5 }, "invalid_request"],
      [[], "invalid_request"],
    ];
    for (const [body, code] of cases) {
      const error = await errorOf(await post(body));
      expect({ body, status: error.status, code: error.code }).toEqual({ body, status: 400, code });
      expect(error.message.length).toBeGreaterThan(5);
    }
    const notJson = await t.app.request("/api/speakers", {
      method: "POST",
      body: "{name:",
      headers: { "Content-Type": "application/json" },
    });
    expect(await errorOf(notJson)).toMatchObject({ status: 400, code: "invalid_json" });
    const empty = await t.app.request("/api/speakers", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
    });
    expect(await errorOf(empty)).toMatchObject({ status: 400, code: "invalid_request" });
    await post({ name: "Carol" });
    const nothing = await t.app.request("/api/speakers/carol", jsonRequest("PATCH", {}));
    expect(await errorOf(nothing)).toMatchObject({ status: 400, code: "invalid_request" });
    expect(temp.registry.list().map((s) => s.name)).toEqual(["Carol"]);
  });

  it("404s for unknown speakers, samples and routes", async () => {
    await post({ name: "Dan" });
    expect(await errorOf(await t.app.request("/api/speakers/nobody", { method: "DELETE" }))).toMatchObject({
      status: 404,
      code: "speaker_not_found",
    });
    expect(
      await errorOf(await t.app.request("/api/speakers/nobody", jsonRequest("PATCH", { name: "X" }))),
    ).toMatchObject({ status: 404, code: "speaker_not_found" });
    expect(
      await errorOf(await t.app.request("/api/speakers/dan/samples/abc123", { method: "DELETE" })),
    ).toMatchObject({
      status: 404,
      code: "sample_not_found",
    });
    expect(await errorOf(await t.app.request("/api/nothing-here"))).toMatchObject({
      status: 404,
      code: "not_found",
    });
  });
});

describe("bearer token", () => {
  const TOKEN = "s3cret-token";
  let secured: TestApp;
  beforeEach(() => {
    secured = makeApp(pipeline, temp, { config: { token: TOKEN } });
  });

  it("guards /api and /metrics but not /health", async () => {
    const missing = await secured.app.request("/api/speakers");
    expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(await errorOf(missing)).toMatchObject({ status: 401, code: "unauthorized" });
    for (const header of [
      "Bearer wrong",
      `Basic ${TOKEN}`,
      `Bearer ${TOKEN}x`,
      "Bearer",
      `Bearer ${TOKEN.slice(0, -1)}`,
    ]) {
      const res = await secured.app.request("/api/speakers", { headers: { Authorization: header } });
      expect({ header, status: res.status }).toEqual({ header, status: 401 });
    }
    const ok = await secured.app.request("/api/speakers", { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect((await secured.app.request("/metrics")).status).toBe(401);
    expect(
      (await secured.app.request("/metrics", { headers: { Authorization: `bearer ${TOKEN}` } })).status,
    ).toBe(200);
    expect((await secured.app.request("/health")).status).toBe(200);
  });

  it("rejects an unauthenticated write before touching the registry", async () => {
    const res = await secured.app.request("/api/speakers", jsonRequest("POST", { name: "Mallory" }));
    expect(res.status).toBe(401);
    expect(temp.registry.list()).toEqual([]);
  });
});

describe("/health and /metrics", () => {
  it("reports 200 when all components are ok and 503 otherwise", async () => {
    const ok = await t.app.request("/health");
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual(t.health.report);
    t.health.report = {
      ...t.health.report,
      status: "degraded",
      components: { ...t.health.report.components, mqtt: { state: "down", detail: "connection refused" } },
    };
    const degraded = await t.app.request("/health");
    expect(degraded.status).toBe(503);
    expect(await degraded.json()).toMatchObject({
      status: "degraded",
      components: { mqtt: { state: "down" } },
    });
  });

  it("serves the Prometheus exposition", async () => {
    const res = await t.app.request("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const text = await res.text();
    expect(text).toContain("# TYPE voiceid_identifications_total counter");
    expect(text).toContain('voiceid_stage_seconds_bucket{le="+Inf",stage="encoder"} 0');
  });
});
