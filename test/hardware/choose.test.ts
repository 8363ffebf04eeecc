import { describe, expect, it } from "vitest";
import { chooseEncoder, type EncoderMeasurement } from "../../src/hardware/choose.js";

const measured = (
  ecapa: number,
  campplus = 0.011,
  provider: "cpu" | "cuda" = "cpu",
): EncoderMeasurement[] => [
  { encoder: "resemblyzer-0.1.4", provider, msPerAudioSecond: 5, realTimeFactor: 0.005 },
  { encoder: "ecapa-voxceleb", provider, msPerAudioSecond: ecapa * 1000, realTimeFactor: ecapa },
  { encoder: "campplus-zh-en", provider, msPerAudioSecond: campplus * 1000, realTimeFactor: campplus },
];
const all = ["resemblyzer-0.1.4", "ecapa-voxceleb", "campplus-zh-en"] as const;
const withoutCampplus = ["resemblyzer-0.1.4", "ecapa-voxceleb"] as const;

describe("chooseEncoder", () => {
  it("takes CAM++ when it is installed and fits the budget, saying why", () => {
    const choose = (campplus: number, budget = 0.15) =>
      chooseEncoder({
        configured: "auto",
        installed: all,
        measurements: measured(0.04, campplus),
        maxRealTimeFactor: budget,
      });
    // This machine (0.011), a Pi 4 (about 0.05, estimated).
    expect(choose(0.011)).toEqual({
      encoder: "campplus-zh-en",
      reason: "CAM++ runs at real-time factor 0.011 on cpu, within the budget of 0.15",
    });
    expect(choose(0.15).encoder).toBe("campplus-zh-en");
    // Over the budget, the next larger encoder is tried: ECAPA-TDNN (0.04 here) fits.
    expect(choose(0.2).encoder).toBe("ecapa-voxceleb");
    expect(choose(0.2, 0.03)).toEqual({
      encoder: "resemblyzer-0.1.4",
      reason:
        "CAM++ runs at real-time factor 0.200 on cpu, over the budget of 0.03; ECAPA-TDNN runs at real-time factor 0.040 on cpu, over the budget of 0.03",
    });
  });

  it("takes ECAPA-TDNN when CAM++ is not installed and ECAPA-TDNN fits the budget, else Resemblyzer", () => {
    const choose = (rtf: number, budget = 0.15) =>
      chooseEncoder({
        configured: "auto",
        installed: withoutCampplus,
        measurements: measured(rtf),
        maxRealTimeFactor: budget,
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
      reason:
        "CAM++ is not installed (`voiceid models fetch` says how to provide it); ECAPA-TDNN runs at real-time factor 0.210 on cpu, over the budget of 0.15",
    });
    expect(choose(0.21, 0.3).encoder).toBe("ecapa-voxceleb");
  });

  it("keeps Resemblyzer when no larger encoder is installed or could be measured", () => {
    expect(
      chooseEncoder({
        configured: "auto",
        installed: ["resemblyzer-0.1.4"],
        measurements: [],
        maxRealTimeFactor: 1,
      }),
    ).toEqual({
      encoder: "resemblyzer-0.1.4",
      reason:
        "CAM++ is not installed (`voiceid models fetch` says how to provide it); ECAPA-TDNN is not installed (`voiceid models fetch` says how to provide it)",
    });
    expect(
      chooseEncoder({
        configured: "auto",
        installed: all,
        measurements: measured(0.01).slice(0, 1),
        maxRealTimeFactor: 1,
      }).reason,
    ).toBe("CAM++ could not be measured on this machine; ECAPA-TDNN could not be measured on this machine");
  });

  it("runs the configured encoder whatever the measurements say", () => {
    for (const configured of all)
      expect(
        chooseEncoder({
          configured,
          installed: all,
          measurements: measured(0.9, 0.9),
          maxRealTimeFactor: 0.15,
        }),
      ).toEqual({ encoder: configured, reason: `configured (identification.encoder: ${configured})` });
  });
});
