import { silentLogger } from "../../src/util/log.js";
import { UnknownVoiceStore, type UnknownVoiceStoreOptions } from "../../src/voices/voice-store.js";

/** A store of unknown voices as the daemon makes one for Resemblyzer, on `dataDir`, with `over` on top. */
export function voiceStore(dataDir: string, over: Partial<UnknownVoiceStoreOptions> = {}): UnknownVoiceStore {
  return new UnknownVoiceStore({
    dataDir,
    modelId: "resemblyzer-0.1.4",
    threshold: 0.82,
    policy: { join: 0.82 },
    maxTurns: 500,
    maxDays: 14,
    keepClips: false,
    logger: silentLogger,
    ...over,
  });
}
