import { readFile } from "node:fs/promises";
import os from "node:os";
import si from "systeminformation";

/** What the machine is, as `voiceid hardware` prints it and the encoder choice records it. */
export interface HardwareProfile {
  cpu: {
    brand: string;
    arch: string;
    cores: number;
    physicalCores: number;
    /** Nominal GHz when the OS reports it (0 in many VMs). */
    speedGHz: number;
    /** The SIMD extensions onnxruntime's kernels use, among those present. */
    simd: string[];
  };
  memoryBytes: number;
  /** "Raspberry Pi 5 Model B Rev 1.0", or what the firmware calls the machine. */
  board: string;
  gpus: { vendor: string; model: string; vramMB: number | null }[];
  /** An NVIDIA GPU is present: worth trying onnxruntime's CUDA provider. */
  nvidia: boolean;
}

const SIMD_FLAGS = ["avx512f", "avx2", "fma", "avx", "sse4_2", "asimd", "neon", "sve"];

export async function detectHardware(): Promise<HardwareProfile> {
  const [cpu, flags, mem, system, graphics] = await Promise.all([
    si.cpu(),
    si.cpuFlags(),
    si.mem(),
    si.system(),
    si.graphics().catch(() => ({ controllers: [] as si.Systeminformation.GraphicsControllerData[] })),
  ]);
  const present = new Set(flags.split(/\s+/));
  const gpus = graphics.controllers.map((c) => ({
    vendor: c.vendor ?? "",
    model: c.model ?? "",
    vramMB: typeof c.vram === "number" ? c.vram : null,
  }));
  return {
    cpu: {
      brand:
        [cpu.manufacturer, cpu.brand].filter((s) => s !== "").join(" ") || os.cpus()[0]?.model || "unknown",
      arch: os.arch(),
      cores: cpu.cores,
      physicalCores: cpu.physicalCores,
      speedGHz: cpu.speedMax || cpu.speed,
      simd: SIMD_FLAGS.filter((f) => present.has(f)),
    },
    memoryBytes: mem.total,
    board:
      (await deviceTreeModel()) ??
      ([system.manufacturer, system.model].filter((s) => s !== "").join(" ") || "unknown"),
    gpus,
    nvidia: gpus.some((g) => /nvidia/i.test(`${g.vendor} ${g.model}`)),
  };
}

/** The Raspberry Pi firmware names the board here ("Raspberry Pi 4 Model B Rev 1.4"). */
async function deviceTreeModel(): Promise<string | undefined> {
  try {
    const model = (await readFile("/proc/device-tree/model", "utf8")).replace(/\0/g, "").trim();
    return model === "" ? undefined : model;
  } catch {
    return undefined;
  }
}
