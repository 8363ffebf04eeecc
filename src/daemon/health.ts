import type { HouseholdStatus } from "../household/sync.js";
import type { ComponentHealth, EncoderReport, HealthReport, ListeningReport } from "../http/deps.js";
import type { MqttConnection } from "../mqtt/connection.js";
import type { SpeakerRegistry } from "../registry/registry.js";
import type { AudioInput } from "./audio-input.js";
import type { SpeechPipeline } from "./speech-pipeline.js";

export interface HealthInputs {
  input: AudioInput | null;
  pipeline: SpeechPipeline | null;
  encoder: EncoderReport | null;
  mqtt: MqttConnection | null;
  registry: SpeakerRegistry | null;
  listening: ListeningReport;
  household?: HouseholdStatus | null;
}

/** One look at every part the user cares about; anything not ok makes /health answer 503. */
export function healthReport(inputs: HealthInputs): HealthReport {
  const audio = audioHealth(inputs.input);
  const pipelineError = inputs.pipeline?.status().lastError ?? null;
  const vad: ComponentHealth = !inputs.pipeline
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
  return { status, listening: inputs.listening, encoder: inputs.encoder, components, ...household };
}

function audioHealth(input: AudioInput | null): ComponentHealth {
  if (!input) return { state: "starting" };
  const s = input.status();
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
