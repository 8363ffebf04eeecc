import { describe, expect, it } from "vitest";
import { chooseEncoder, type EncoderMeasurement } from "../../src/hardware/choose.js";

const measured = (rtf: number, provider: "cpu" | "cuda" = "cpu"): EncoderMeasurement[] => [
  { encoder: "resemblyzer-0.1.4", provider, msPerAudioSecond: 5, realTimeFactor: 0.005 },
  { encoder: "ecapa-voxceleb", provider, msPerAudioSecond: rtf * 1000, realTimeFactor: rtf },
];
const both = ["resemblyzer-0.1.4", "ecapa-voxceleb"] as const;

describe("chooseEncoder", () => {
  it("takes ECAPA-TDNN when it is installed and fits the budget, else Resemblyzer, saying why", () => {
    const choose = (rtf: number, budget = 0.15) =>
      chooseEncoder({
        configured: "auto",
        installed: both,
        measurements: measured(rtf),
        maxEcapaRealTimeFactor: budget,
      });
    // This machine (about 0.04), a Pi 5 (about 0.12, estimated) and a Pi 4 (about 0.21, estimated).
    expect(choose(0.04)).toEqual({
      encoder: "ecapa-voxceleb",
      reason: "ECAPA-TDNN runs at real-time factor 0.040 on cpu, within the budget of 0.15",
    });
    expect(choose(0.12).encoder).toBe("ecapa-voxceleb");
    expect(choose(0.15).encoder).toBe("ecapa-voxceleb");
    expect(choose(0.21)).toEqual({
      encoder: "resemblyzer-0.1.4",
      reason: "ECAPA-TDNN runs at real-time factor 0.210 on cpu, over the budget of 0.15",
    });
    expect(choose(0.21, 0.3).encoder).toBe("ecapa-voxceleb");
  });

  it("keeps Resemblyzer when ECAPA-TDNN is not installed or could not be measured", () => {
    expect(
      chooseEncoder({
        configured: "auto",
        installed: ["resemblyzer-0.1.4"],
        measurements: [],
        maxEcapaRealTimeFactor: 1,
      }),
    ).toEqual({
      encoder: "resemblyzer-0.1.4",
      reason: "ECAPA-TDNN is not installed (`voiceid models fetch` says how to provide it)",
    });
    expect(
      chooseEncoder({
        configured: "auto",
        installed: both,
        measurements: measured(0.01).slice(0, 1),
        maxEcapaRealTimeFactor: 1,
      }).reason,
    ).toBe("ECAPA-TDNN could not be measured on this machine");
  });

  it("runs the configured encoder whatever the measurements say", () => {
    for (const configured of both)
      expect(
        chooseEncoder({
          configured,
          installed: both,
          measurements: measured(0.9),
          maxEcapaRealTimeFactor: 0.15,
        }),
      ).toEqual({ encoder: configured, reason: `configured (identification.encoder: ${configured})` });
  });
});
