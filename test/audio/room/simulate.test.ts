import { describe, expect, it } from "vitest";
import { convolve, fft } from "../../../src/audio/fft.js";
import { distance, roomImpulseResponse } from "../../../src/audio/room/impulse-response.js";
import { activePower, addNoise, babbleNoise, pinkNoise } from "../../../src/audio/room/noise.js";
import { roomConditions, simulateRoom, simulationSeed } from "../../../src/audio/room/simulate.js";
import { mulberry32 } from "../../../src/util/random.js";

const RATE = 16_000;

function randomSignal(length: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length }, () => random() * 2 - 1);
}

/** Reverberation time from the impulse response's Schroeder decay curve, fitted from -5 to -25 dB (T20). */
function measuredRt60(h: Float32Array): number {
  const energy = new Float64Array(h.length);
  let sum = 0;
  for (let i = h.length - 1; i >= 0; i--) {
    sum += h[i] * h[i];
    energy[i] = sum;
  }
  const db = (i: number) => 10 * Math.log10(energy[i] / energy[0]);
  const at = (level: number) => {
    let i = 0;
    while (i < h.length - 1 && db(i) > level) i++;
    return i;
  };
  return ((at(-25) - at(-5)) / RATE) * 3;
}

describe("FFT convolution", () => {
  it("transforms and inverts like the DFT", () => {
    const n = 64;
    const x = randomSignal(n, 1);
    const re = Float64Array.from(x);
    const im = new Float64Array(n);
    fft(re, im);
    for (const k of [0, 1, 7, 32, 63]) {
      let dRe = 0;
      let dIm = 0;
      for (let t = 0; t < n; t++) {
        dRe += x[t] * Math.cos((-2 * Math.PI * k * t) / n);
        dIm += x[t] * Math.sin((-2 * Math.PI * k * t) / n);
      }
      expect(re[k]).toBeCloseTo(dRe, 9);
      expect(im[k]).toBeCloseTo(dIm, 9);
    }
    fft(re, im, true);
    for (let t = 0; t < n; t++) expect(re[t]).toBeCloseTo(x[t], 9);
    expect(() => fft(new Float64Array(6), new Float64Array(6))).toThrow(RangeError);
  });

  it("equals direct convolution over several overlap-add blocks, giving the event loop turns", async () => {
    const signal = randomSignal(5000, 2);
    const kernel = randomSignal(300, 3);
    let pauses = 0;
    const out = await convolve(signal, kernel, async () => {
      pauses++;
    });
    // 5000 samples in blocks of 1024 - 300 + 1 = 725: one pause before each of the 7 blocks.
    expect(pauses).toBe(7);
    expect(out.length).toBe(signal.length + kernel.length - 1);
    for (const i of [0, 1, 299, 300, 511, 1024, 4999, 5298]) {
      let direct = 0;
      for (let k = 0; k < kernel.length; k++) {
        const j = i - k;
        if (j >= 0 && j < signal.length) direct += signal[j] * kernel[k];
      }
      expect(out[i]).toBeCloseTo(direct, 3);
    }
  });
});

describe("room impulse responses", () => {
  const room = {
    size: [5.5, 4.3, 2.7] as const,
    talker: [2.75, 3.2, 1.6] as const,
    microphone: [2.75, 0.3, 1.2] as const,
  };

  it("start with the direct sound, at the talker's distance", () => {
    const h = roomImpulseResponse({ ...room, rt60: 0.5 }, RATE, mulberry32(1));
    const delay = (distance(room.talker, room.microphone) / 343) * RATE;
    const first = h.findIndex((v) => Math.abs(v) > 1e-6);
    expect(Math.abs(first - delay)).toBeLessThanOrEqual(1);
    // Close to the microphone the direct sound is the loudest arrival (far away, the room wins).
    const near = [2.75, 0.9, 1.3] as const;
    const g = roomImpulseResponse({ ...room, talker: near, rt60: 0.5 }, RATE, mulberry32(1));
    const nearDelay = Math.floor((distance(near, room.microphone) / 343) * RATE);
    let loudest = 0;
    for (let i = 0; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[loudest])) loudest = i;
    expect(loudest - nearDelay).toBeGreaterThanOrEqual(0);
    expect(loudest - nearDelay).toBeLessThanOrEqual(1);
  });

  it("decay at the reverberation time they were made for", () => {
    for (const rt60 of [0.2, 0.5, 1.0]) {
      const h = roomImpulseResponse({ ...room, rt60 }, RATE, mulberry32(2));
      const measured = measuredRt60(h);
      expect(measured).toBeGreaterThan(rt60 * 0.7);
      expect(measured).toBeLessThan(rt60 * 1.3);
    }
  });

  it("carry more reverberant energy, against the direct sound, the farther the talker", () => {
    const ratio = (talker: readonly [number, number, number]) => {
      const h = roomImpulseResponse({ ...room, talker, rt60: 0.6 }, RATE, mulberry32(3));
      const delay = Math.round((distance(talker, room.microphone) / 343) * RATE);
      let direct = 0;
      let rest = 0;
      h.forEach((v, i) => {
        if (Math.abs(i - delay) <= 1) direct += v * v;
        else rest += v * v;
      });
      return rest / direct;
    };
    expect(ratio([2.75, 3.9, 1.6])).toBeGreaterThan(4 * ratio([2.75, 0.9, 1.6]));
  });
});

describe("household noise", () => {
  it("is added at the signal-to-noise ratio asked for", async () => {
    const speech = randomSignal(RATE * 2, 4);
    for (const kind of ["pink", "babble"] as const) {
      const noise =
        kind === "pink"
          ? await pinkNoise(speech.length, mulberry32(5))
          : await babbleNoise(speech.length, mulberry32(5));
      const noisy = addNoise(speech, noise, 10);
      const added = noisy.map((v, i) => v - speech[i]);
      const snr =
        10 * Math.log10(activePower(speech) / (added.reduce((s, v) => s + v * v, 0) / added.length));
      expect(snr).toBeCloseTo(10, 1);
    }
  });

  it("pink noise has more power in low frequencies than high, about 3 dB per octave", async () => {
    const noise = await pinkNoise(1 << 16, mulberry32(6));
    const re = Float64Array.from(noise);
    const im = new Float64Array(re.length);
    fft(re, im);
    const band = (fromHz: number, toHz: number) => {
      let sum = 0;
      const from = Math.round((fromHz / RATE) * re.length);
      const to = Math.round((toHz / RATE) * re.length);
      for (let k = from; k < to; k++) sum += re[k] * re[k] + im[k] * im[k];
      return sum / (to - from);
    };
    const octaves = Math.log2(4000 / 250);
    const slope = (10 * Math.log10(band(200, 300) / band(3800, 4200))) / octaves;
    expect(slope).toBeGreaterThan(2);
    expect(slope).toBeLessThan(4);
  });
});

describe("simulated rooms of a clip", () => {
  const clip = randomSignal(RATE, 7);

  it("are the same every time for the same clip, and others for another clip", async () => {
    const seed = simulationSeed(clip);
    expect(simulationSeed(clip.slice())).toBe(seed);
    expect(simulationSeed(randomSignal(RATE, 8))).not.toBe(seed);
    const conditions = roomConditions(seed, 8);
    expect(roomConditions(seed, 8)).toEqual(conditions);
    const a = await simulateRoom(clip, conditions[0], seed);
    expect(await simulateRoom(clip, conditions[0], seed)).toEqual(a);
    expect(await simulateRoom(clip, conditions[0], seed + 1)).not.toEqual(a);
  });

  it("cover the ranges: RT60 0.2-1 s, talker 0.5-4 m, 5-25 dB, pink and babble, inside the room", () => {
    const conditions = roomConditions(12345, 8);
    const sorted = (f: (c: (typeof conditions)[number]) => number) => conditions.map(f).sort((a, b) => a - b);
    const rt60 = sorted((c) => c.rt60);
    expect(rt60[0]).toBeGreaterThanOrEqual(0.2);
    expect(rt60[0]).toBeLessThan(0.3);
    expect(rt60[7]).toBeLessThanOrEqual(1);
    expect(rt60[7]).toBeGreaterThan(0.9);
    const snr = sorted((c) => c.snrDb);
    expect(snr[0]).toBeLessThan(7.5);
    expect(snr[7]).toBeGreaterThan(22.5);
    const distances = sorted((c) => distance(c.talker, c.microphone));
    expect(distances[0]).toBeLessThan(1.2);
    expect(distances[7]).toBeGreaterThan(2.5);
    expect(new Set(conditions.map((c) => c.noise))).toEqual(new Set(["pink", "babble"]));
    for (const c of conditions) {
      for (const point of [c.talker, c.microphone]) {
        point.forEach((v, axis) => {
          expect(v).toBeGreaterThan(0);
          expect(v).toBeLessThan(c.size[axis]);
        });
      }
    }
  });

  it("keep the clip's level and add its reverberation tail", async () => {
    const [condition] = roomConditions(simulationSeed(clip), 1);
    const heard = await simulateRoom(clip, condition, 1);
    expect(heard.length).toBeGreaterThan(clip.length);
    const power = (x: Float32Array) => x.reduce((s, v) => s + v * v, 0) / x.length;
    expect(power(heard)).toBeCloseTo(power(clip), 5);
  });
});

describe("a long clip's simulation", () => {
  it("never holds the event loop for long", async () => {
    const long = randomSignal(RATE * 60, 9);
    const [condition] = roomConditions(1, 1);
    let longest = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
    }, 1);
    try {
      await simulateRoom(long, { ...condition, noise: "babble", rt60: 1 }, 1);
    } finally {
      clearInterval(ticker);
    }
    // A minute of audio is a few hundred ms of work; the loop still turns every few tens of ms.
    expect(longest).toBeLessThan(60);
  });
});
