import type { VoiceidConfig } from "../../config/schema.js";
import { parseCommandArgs } from "../args.js";
import { cliConfig } from "../context.js";
import { UsageError } from "../errors.js";

interface VoiceRow {
  id: string;
  label: string | null;
  turns: number;
  speechSeconds: number;
  lastHeard: string | null;
  rooms: string[];
  clips: number;
  nearest: { speaker: string; score: number } | null;
}

/**
 * `voiceid voices`: the voices nobody enrolled, kept by the running daemon (they live in its memory and
 * reach the disk behind it), so this asks the daemon's API, with its configured address and token.
 */
export async function voicesCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    json: { type: "boolean" },
    ignored: { type: "boolean" },
  });
  const config = await cliConfig(values);
  const api = apiOf(config);
  const [sub, ...rest] = positionals;
  if (sub === undefined || sub === "list") {
    if (rest.length > 0) throw new UsageError("voices takes no arguments");
    const { voices } = (await api("GET", `/api/voices${values.ignored ? "?ignored=1" : ""}`)) as {
      voices: VoiceRow[];
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(voices)}\n`);
      return 0;
    }
    if (voices.length === 0) {
      process.stdout.write(
        values.ignored ? "no voice is ignored\n" : "no voices heard that nobody enrolled\n",
      );
      return 0;
    }
    for (const v of voices) {
      const nearest = v.nearest ? `; nearest ${v.nearest.speaker} (${v.nearest.score})` : "";
      const label = v.label ? ` "${v.label}"` : "";
      process.stdout.write(
        `${v.id}${label}: ${v.turns} turns, ${v.speechSeconds} s of speech, last heard ${v.lastHeard} in ${v.rooms.join(", ")}, ${v.clips} clips${nearest}\n`,
      );
    }
    return 0;
  }
  if (sub === "name") {
    if (rest.length !== 2)
      throw new UsageError("voices name takes a voice and a person: voices name voice-3 Alice");
    const result = (await api("POST", `/api/voices/${encodeURIComponent(rest[0])}/assign`, {
      name: rest[1],
    })) as {
      speaker: { name: string; id: string };
      created: boolean;
      samples: number;
      warnings: string[];
    };
    for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(
      `${rest[0]} is ${result.speaker.name}${result.created ? " (new person)" : ""}: ${result.samples} samples added\n`,
    );
    return 0;
  }
  if (sub === "ignore") {
    if (rest.length < 1 || rest.length > 2)
      throw new UsageError("voices ignore takes a voice and an optional label");
    await api("POST", `/api/voices/${encodeURIComponent(rest[0])}/ignore`, rest[1] ? { label: rest[1] } : {});
    process.stdout.write(
      `${rest[0]} ignored${rest[1] ? ` as "${rest[1]}"` : ""}: its turns make no events\n`,
    );
    return 0;
  }
  if (sub === "unignore") {
    if (rest.length !== 1) throw new UsageError("voices unignore takes a voice");
    await api("POST", `/api/voices/${encodeURIComponent(rest[0])}/unignore`);
    process.stdout.write(`${rest[0]} is no longer ignored\n`);
    return 0;
  }
  if (sub === "forget") {
    if (rest.length !== 1) throw new UsageError("voices forget takes a voice");
    await api("DELETE", `/api/voices/${encodeURIComponent(rest[0])}`);
    process.stdout.write(`${rest[0]} forgotten (voiceprints and clips)\n`);
    return 0;
  }
  throw new UsageError(`unknown voices command "${sub}" (list, name, ignore, unignore, forget)`);
}

type Api = (method: string, path: string, body?: unknown) => Promise<unknown>;

function apiOf(config: VoiceidConfig): Api {
  const { host, port, token, enabled } = config.http;
  if (!enabled) throw new Error("voices are managed through the daemon's API, and http.enabled is false");
  const reach = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  const base = `http://${reach}:${port}`;
  return async (method, path, body) => {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: {
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch {
      throw new Error(
        `the daemon is not reachable at ${base} (voices are kept by the running daemon: start it)`,
      );
    }
    if (res.status === 204) return null;
    const json = (await res.json().catch(() => null)) as { error?: { message: string } } | null;
    if (!res.ok) throw new Error(json?.error?.message ?? `the daemon answered HTTP ${res.status}`);
    return json;
  };
}
