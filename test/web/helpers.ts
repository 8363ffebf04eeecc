import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { loadConfig } from "../../src/config/load.js";
import { Daemon } from "../../src/daemon/daemon.js";
import { encodePcm16Wav } from "../../src/enrolment/wav-encode.js";
import { silentLogger } from "../../src/util/log.js";
import { freePort } from "../helpers/mosquitto.js";
import { modelsDir } from "../helpers/paths.js";

/** Debian's Chromium (`apt-get install chromium`), as the web issue and CI use it. */
export const CHROMIUM = "/usr/bin/chromium";

export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found: apt-get install chromium`;
}

export interface PageDaemon {
  url: string;
  daemon: Daemon;
  dataDir: string;
  /** Plays audio into the daemon's input (16 kHz mono, raw s16le on its stdin). */
  speak(samples: Float32Array): void;
  stop(): Promise<void>;
}

/** The real daemon (real models, stdin input, real HTTP server) on a fresh data directory. */
export async function startPageDaemon(overrides: Record<string, unknown> = {}): Promise<PageDaemon> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "voiceid-web-"));
  const port = await freePort();
  const { config } = await loadConfig({
    env: {},
    searchPaths: [],
    overrides: {
      dataDir,
      modelsDir,
      "audio.source": "stdin",
      "audio.format": "raw",
      "mqtt.enabled": false,
      "http.port": port,
      ...overrides,
    },
  });
  const stdin = new PassThrough();
  const daemon = new Daemon({ config, logger: silentLogger, stdin });
  await daemon.start();
  return {
    url: `http://127.0.0.1:${port}`,
    daemon,
    dataDir,
    speak(samples) {
      const pcm = encodePcm16Wav(samples, 16_000).subarray(44);
      stdin.write(pcm);
    },
    async stop() {
      stdin.end();
      await daemon.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/**
 * Headless Chromium with a fresh profile whose fake microphone plays `microphoneWav` (looped), and
 * permission to use it granted.
 */
export async function openBrowser(url: string, microphoneWav: Uint8Array): Promise<Browser> {
  const profile = await mkdtemp(path.join(tmpdir(), "voiceid-chromium-"));
  const mic = path.join(profile, "microphone.wav");
  await writeFile(mic, microphoneWav);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1100, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream",
      `--use-file-for-fake-audio-capture=${mic}`,
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(url);
  return {
    context,
    page,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
