import { describe, expect, it } from "vitest";
import { createVoiceidMetrics, IDENTIFICATION_OUTCOMES, PIPELINE_STAGES } from "../../src/metrics/voiceid.js";

describe("createVoiceidMetrics", () => {
  it("exposes every daemon series, labelled outcomes and stages visible from the start, and process metrics", async () => {
    const m = createVoiceidMetrics();
    const text = await m.registry.metrics();
    for (const name of [
      "voiceid_segments_total",
      "voiceid_identifications_total",
      "voiceid_stage_seconds",
      "voiceid_mqtt_connected",
      "voiceid_mqtt_reconnects_total",
      "voiceid_audio_restarts_total",
      "voiceid_listening",
      "voiceid_encoder_info",
      "voiceid_process_resident_memory_bytes",
      "voiceid_process_cpu_seconds_total",
      "voiceid_nodejs_eventloop_lag_seconds",
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    for (const outcome of IDENTIFICATION_OUTCOMES) {
      expect(text).toContain(`voiceid_identifications_total{outcome="${outcome}"} 0`);
    }
    for (const stage of PIPELINE_STAGES) {
      expect(text).toContain(`voiceid_stage_seconds_count{stage="${stage}"} 0`);
    }
  });

  it("reflects updates, reads state at scrape time and the real RSS", async () => {
    let status = { connected: true, reconnects: 2 };
    const m = createVoiceidMetrics({
      mqtt: () => status,
      encoder: () => ({ model: "resemblyzer-0.1.4", provider: "cpu" }),
      listening: () => false,
    });
    m.segments.inc();
    m.identifications.inc({ outcome: "known" });
    m.stageSeconds.observe({ stage: "encoder" }, 0.2);
    let text = await m.registry.metrics();
    expect(text).toContain("voiceid_segments_total 1\n");
    expect(text).toContain('voiceid_identifications_total{outcome="known"} 1\n');
    expect(text).toContain('voiceid_stage_seconds_count{stage="encoder"} 1\n');
    expect(text).toContain("voiceid_mqtt_connected 1\n");
    expect(text).toContain("voiceid_mqtt_reconnects_total 2\n");
    expect(text).toContain("voiceid_listening 0\n");
    expect(text).toContain('voiceid_encoder_info{model="resemblyzer-0.1.4",provider="cpu"} 1\n');
    const rss = Number(/voiceid_process_resident_memory_bytes (\d+)/.exec(text)?.[1]);
    expect(rss).toBeGreaterThan(10 * 1024 * 1024);
    status = { connected: false, reconnects: 5 };
    text = await m.registry.metrics();
    expect(text).toContain("voiceid_mqtt_connected 0\n");
    expect(text).toContain("voiceid_mqtt_reconnects_total 5\n");
  });

  it("separate instances do not share state", async () => {
    const a = createVoiceidMetrics();
    const b = createVoiceidMetrics();
    a.segments.inc();
    expect((await b.segments.get()).values[0]?.value ?? 0).toBe(0);
  });
});
