import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { type InProcessDaemon, startDaemonInProcess } from "../daemon/helpers.js";

/** Debian's Chromium (`apt-get install chromium`), as the web issue and CI use it. */
export const CHROMIUM = "/usr/bin/chromium";

export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found: apt-get install chromium`;
}

export interface PageDaemon extends InProcessDaemon {
  dataDir: string;
}

/** The real daemon on a fresh data directory, removed when it stops. */
export async function startPageDaemon(overrides: Record<string, unknown> = {}): Promise<PageDaemon> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "voiceid-web-"));
  const started = await startDaemonInProcess(dataDir, overrides);
  return {
    ...started,
    dataDir,
    async stop() {
      await started.stop();
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
