import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { ListeningReport } from "../http/deps.js";
import { writeFileAtomic } from "../registry/storage.js";
import type { Logger } from "../util/log.js";
import { PARSE_ONCE } from "../util/parse-once.js";

const FILE_NAME = "listening.json";
const stateSchema = z.object({ listening: z.boolean(), changedAt: z.string() });

/**
 * Whether voiceid listens (the mute switch), kept in `<dataDir>/listening.json` so that a restart,
 * even a reboot, never turns listening back on behind the user's back. Missing file: listening; a file
 * that cannot be understood: not listening (privacy first), with a warning saying how to switch it on.
 */
export class ListeningState {
  private state: ListeningReport = { listening: true, changedAt: new Date(0).toISOString() };

  constructor(
    private readonly dataDir: string,
    private readonly logger: Logger,
  ) {}

  get listening(): boolean {
    return this.state.listening;
  }

  /** What /health and /api/listening show. */
  get report(): ListeningReport {
    return { ...this.state };
  }

  async load(): Promise<void> {
    const path = join(this.dataDir, FILE_NAME);
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    const parsed = stateSchema.safeParse(safeJson(text), PARSE_ONCE);
    if (parsed.success) this.state = parsed.data;
    else {
      this.state = { listening: false, changedAt: new Date().toISOString() };
      this.logger.warn(
        `${path} is not valid: not listening until it is switched on (POST /api/listening or the switch in Home Assistant)`,
      );
    }
  }

  /**
   * Saves first (atomically, creating the data directory on a first run), so that what is reported is
   * what a restart will restore.
   */
  async set(listening: boolean): Promise<void> {
    const next = { listening, changedAt: new Date().toISOString() };
    await writeFileAtomic(join(this.dataDir, FILE_NAME), `${JSON.stringify(next)}\n`);
    this.state = next;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
