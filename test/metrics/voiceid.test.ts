import { describe, expect, it } from "vitest";
import { createVoiceidMetrics, IDENTIFICATION_OUTCOMES, PIPELINE_STAGES } from "../../src/metrics/voiceid.js";

describe("createVoiceidMetrics", () => {
  it("exposes every daemon series, labelled outcomes and stages visible from the start", () => {
    const m = createVoiceidMetrics();
    const text = m.registry.render();
    for (const name of [
      "voiceid_segments_total",
      "voiceid_identifications_total",
      "voiceid_stage_seconds",
      "voiceid_mqtt_connected",
      "voiceid_mqtt_reconnects_total",
      "voiceid_audio_restarts_total",
      "voiceid_process_resident_memory_bytes",
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

  it("reflects updates made by the daemon and reads the real RSS", () => {
    const m = createVoiceidMetrics();
    m.segments.inc();
    m.identifications.inc({ outcome: "known" });
    m.stageSeconds.observe({ stage: "encoder" }, 0.2);
    m.mqttConnected.set(1);
    const text = m.registry.render();
    expect(text).toContain("voiceid_segments_total 1\n");
    expect(text).toContain('voiceid_identifications_total{outcome="known"} 1\n');
    expect(text).toContain('voiceid_stage_seconds_count{stage="encoder"} 1\n');
    expect(text).toContain("voiceid_mqtt_connected 1\n");
    const rss = Number(/voiceid_process_resident_memory_bytes (\d+)/.exec(text)?.[1]);
    expect(rss).toBeGreaterThan(10 * 1024 * 1024);
  });

  it("separate instances do not share state", () => {
    const a = createVoiceidMetrics();
    const b = createVoiceidMetrics();
    a.segments.inc();
    expect(b.segments.get()).toBe(0);
  });
});
