/** Runs scripts/reference/resemblyzer_speed.py (the PyTorch Resemblyzer) and reads its JSON. */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "../../test/helpers/paths.js";

export const PYTHON_SPEED_SCRIPT = "scripts/reference/resemblyzer_speed.py";

/** What resemblyzer_speed.py prints (one JSON object). */
export interface PythonSpeedResult {
  implementation: string;
  versions: Record<string, string>;
  threads: number;
  repeats: number;
  files: number;
  audioSeconds: number;
  stageMs: Record<string, number>;
  msPerAudioSecond: Record<string, number>;
  benchWallSeconds: number;
  resample?: { files: number; audioSeconds: number; decodeMs: number; msPerAudioSecond: number };
}

export type PythonOutcome =
  | { status: "ok"; result: PythonSpeedResult; wallSeconds: number }
  /** Python or one of its packages is not installed: the benchmark still reports voiceid. */
  | { status: "unavailable"; reason: string; install: string[] }
  /** It is installed but the script failed: a bug to look at. */
  | { status: "failed"; reason: string };

/** The install commands of scripts/reference/README.md, so the hint never drifts from the docs. */
export function pipInstallCommands(): string[] {
  try {
    const readme = readFileSync(path.join(repoRoot, "scripts/reference/README.md"), "utf8");
    const lines = readme
      .split("\n")
      .filter((l) => /^\s*pip3? install /.test(l))
      .map((l) => l.trim());
    if (lines.length > 0) return lines;
  } catch {
    // Fall through to the known commands.
  }
  return [
    "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu",
    "pip install -r scripts/reference/requirements.txt",
    "pip install --no-deps resemblyzer==0.1.4",
  ];
}

const MISSING_MODULE = /ModuleNotFoundError|ImportError|No module named/;

export async function runPythonSpeed(
  files: string[],
  repeats: number,
  resampleFiles: string[] = [],
  python = process.env.PYTHON ?? "python3",
): Promise<PythonOutcome> {
  const args = [PYTHON_SPEED_SCRIPT, "--repeats", String(repeats)];
  for (const f of resampleFiles) args.push("--resample-file", f);
  args.push(...files);
  const started = performance.now();
  const run = await runPythonScript(python, args);
  const wallSeconds = (performance.now() - started) / 1000;
  const tail = run.stderr.trim().split("\n").slice(-3).join("\n");
  if (run.error) {
    return {
      status: "unavailable",
      reason: `cannot run ${python}: ${run.error.message}`,
      install: pipInstallCommands(),
    };
  }
  if (run.code !== 0) {
    if (MISSING_MODULE.test(run.stderr)) {
      const missing = run.stderr.split("\n").findLast((l) => MISSING_MODULE.test(l)) ?? tail;
      return { status: "unavailable", reason: missing.trim(), install: pipInstallCommands() };
    }
    return { status: "failed", reason: `${PYTHON_SPEED_SCRIPT} exited with ${run.code}: ${tail}` };
  }
  const line = run.stdout.trim().split("\n").pop() ?? "";
  try {
    const result = JSON.parse(line) as PythonSpeedResult;
    if (typeof result.msPerAudioSecond !== "object") throw new Error("no msPerAudioSecond");
    return { status: "ok", result, wallSeconds };
  } catch (err) {
    return {
      status: "failed",
      reason: `${PYTHON_SPEED_SCRIPT} printed no usable JSON (${err instanceof Error ? err.message : err}): ${line.slice(0, 200)}`,
    };
  }
}

export interface ScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Set when the interpreter could not be started at all. */
  error?: Error;
}

/** A reference script from the repo root, on one BLAS/OpenMP thread like the voiceid side. */
export function runPythonScript(python: string, args: string[]): Promise<ScriptRun> {
  const env = { ...process.env, OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1" };
  return new Promise((resolve) => {
    const child = spawn(python, args, { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", (error) => resolve({ code: null, stdout, stderr, error }));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
