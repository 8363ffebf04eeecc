import type { HouseholdStatus } from "../household/sync.js";
import type {
  ComponentHealth,
  ComponentState,
  EncoderReport,
  HealthReport,
  InputHealth,
  ListeningReport,
} from "../http/deps.js";
import type { MqttConnection } from "../mqtt/connection.js";
import type { SpeakerRegistry } from "../registry/registry.js";
import type { AudioInputStatus } from "./audio-input.js";
import type { RoomStatus } from "./room.js";

export interface HealthInputs {
  /** Every room that has started (none while the daemon starts). */
  rooms: readonly RoomStatus[];
  encoder: EncoderReport | null;
  mqtt: MqttConnection | null;
  registry: SpeakerRegistry | null;
  listening: ListeningReport;
  household?: HouseholdStatus | null;
}

/** One look at every part the user cares about; anything not ok makes /health answer 503. */
export function healthReport(inputs: HealthInputs): HealthReport {
  const rooms = inputs.rooms.map(inputHealth);
  const audio = worstOf(rooms);
  const pipelineError =
    inputs.rooms
      .filter((r) => r.pipeline.lastError !== null)
      .map((r) => (inputs.rooms.length > 1 ? `${r.room}: ${r.pipeline.lastError}` : r.pipeline.lastError))
      .join("; ") || null;
  const vad: ComponentHealth =
    inputs.rooms.length === 0
      ? { state: "starting" }
      : pipelineError
        ? { state: "ok", detail: `recovered from: ${pipelineError}` }
        : { state: "ok" };
  const model: ComponentHealth = inputs.encoder
    ? { state: "ok", detail: `${inputs.encoder.model} on ${inputs.encoder.provider}` }
    : { state: "starting" };
  const mqtt = mqttHealth(inputs.mqtt);
  const problem = inputs.registry?.problem ?? null;
  const registry: ComponentHealth = !inputs.registry
    ? { state: "starting" }
    : problem
      ? {
          state: "degraded",
          detail: `${problem.message}; the last good copy is in use and changes are refused`,
        }
      : { state: "ok" };
  const components = { audio, vad, model, mqtt, registry };
  const states = Object.values(components).map((c) => c.state);
  const status = states.every((s) => s === "ok" || s === "disabled")
    ? "ok"
    : states.some((s) => s === "down")
      ? "down"
      : "degraded";
  const household = inputs.household ? { household: inputs.household } : {};
  return {
    status,
    listening: inputs.listening,
    encoder: inputs.encoder,
    components,
    inputs: rooms,
    ...household,
  };
}

/** Worse first: the audio component is the worst of the rooms'. */
const SEVERITY: Record<ComponentState, number> = { down: 4, degraded: 3, starting: 2, ok: 1, disabled: 0 };

/** One room: the audio component as it was for the one input; several: the worst, naming its room. */
function worstOf(rooms: readonly InputHealth[]): ComponentHealth {
  if (rooms.length === 0) return { state: "starting" };
  if (rooms.length === 1) return componentOf(rooms[0]);
  const worst = rooms.reduce((a, b) => (SEVERITY[b.state] > SEVERITY[a.state] ? b : a));
  const problems = rooms.filter((r) => r.state === worst.state && r.detail !== undefined);
  return problems.length > 0
    ? { state: worst.state, detail: problems.map((r) => `${r.room}: ${r.detail}`).join("; ") }
    : { state: worst.state };
}

function componentOf(room: InputHealth): ComponentHealth {
  return room.detail === undefined ? { state: room.state } : { state: room.state, detail: room.detail };
}

function inputHealth(room: RoomStatus): InputHealth {
  const health = audioHealth(room.audio);
  return { room: room.room, ...health, audio: room.audio.state, restarts: room.audio.restarts };
}

function audioHealth(s: AudioInputStatus): ComponentHealth {
  switch (s.state) {
    case "muted":
      return { state: "disabled", detail: "muted: listening is switched off" };
    case "running":
      return { state: "ok" };
    case "ended":
      return { state: "ok", detail: "input ended" };
    case "retrying":
      return {
        state: "degraded",
        detail: `retrying: ${s.lastError ?? "recorder stopped"} (restarts: ${s.restarts})`,
      };
    case "starting":
      return { state: "starting" };
    case "stopped":
      return { state: "down", detail: "stopped" };
  }
}

function mqttHealth(mqtt: MqttConnection | null): ComponentHealth {
  if (!mqtt) return { state: "disabled" };
  const s = mqtt.status();
  if (s.connected) return { state: "ok" };
  return { state: "degraded", detail: `not connected${s.lastError ? `: ${s.lastError}` : ""}` };
}
