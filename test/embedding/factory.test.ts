import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { ENCODER_IDS } from "../../src/embedding/encoder.js";
import { createEncoder, UnknownEncoderError } from "../../src/embedding/factory.js";
import { modelsDir } from "../helpers/paths.js";

describe("createEncoder", () => {
  it("builds the Resemblyzer encoder, which embeds for real", async () => {
    const encoder = createEncoder("resemblyzer-0.1.4", { modelsDir });
    await encoder.start();
    try {
      const tone = Float32Array.from({ length: 32_000 }, (_, i) => 0.1 * Math.sin(i / 7));
      const voiceprint = await encoder.embedUtterance(tone);
      expect(voiceprint).toHaveLength(encoder.dim);
      expect(Math.hypot(...voiceprint)).toBeCloseTo(1, 5);
    } finally {
      await encoder.stop();
    }
  });

  it("names the valid options when asked for an unknown model", () => {
    expect(() => createEncoder("ecapa-tdnn", { modelsDir })).toThrow(UnknownEncoderError);
    expect(() => createEncoder("ecapa-tdnn", { modelsDir })).toThrow(
      `valid options: ${ENCODER_IDS.join(", ")}`,
    );
  });

  it("the configuration accepts exactly the encoders the factory knows", async () => {
    const bad = loadConfig({
      env: {},
      searchPaths: [],
      overrides: { "identification.encoder": "ecapa-tdnn" },
    });
    await expect(bad).rejects.toThrow(/identification\.encoder/);
    for (const id of ENCODER_IDS) {
      const { config } = await loadConfig({
        env: {},
        searchPaths: [],
        overrides: { "identification.encoder": id },
      });
      expect(() => createEncoder(config.identification.encoder, { modelsDir })).not.toThrow();
    }
  });
});
