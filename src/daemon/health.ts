import type { AudioSource } from "../audio/sources/source.js";
import type { ComponentHealth, HealthReport } from "../http/deps.js";
import type { HomeAssistantBridge } from "../mqtt/bridge.js";
import type { SpeakerRegistry } from "../registry/registry.js";
import type { SpeechPipeline } from "./speech-pipeline.js";

export interface HealthInputs {
  source: AudioSource | null;
  pipeline: SpeechPipeline | null;
  modelReady: () => boolean;
  bridge: HomeAssistantBridge | null;
  registry: SpeakerRegistry | null;
}

/** One look at every part the user cares about; anything not ok makes /health answer 503. */
export function healthReport(inputs: HealthInputs): HealthReport {
  const audio = audioHealth(inputs.source);
  const pipelineError = inputs.pipeline?.status().lastError ?? null;
  const vad: ComponentHealth = !inputs.pipeline
    ? { state: "starting" }
    : pipelineError
      ? { state: "ok", detail: `recovered from: ${pipelineError}` }
      : { state: "ok" };
  const model: ComponentHealth = inputs.modelReady() ? { state: "ok" } : { state: "starting" };
  const mqtt = mqttHealth(inputs.bridge);
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
  return { status, components };
}

function audioHealth(source: AudioSource | null): ComponentHealth {
  if (!source) return { state: "starting" };
  const s = source.status();
  switch (s.state) {
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

function mqttHealth(bridge: HomeAssistantBridge | null): ComponentHealth {
  if (!bridge) return { state: "disabled" };
  const s = bridge.status();
  if (s.connected) return { state: "ok" };
  return { state: "degraded", detail: `not connected${s.lastError ? `: ${s.lastError}` : ""}` };
}
