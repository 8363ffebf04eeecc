/**
 * Environment overrides. Named variables cover what deployments usually set (systemd Environment=,
 * containers); the generic form VOICEID__SECTION__KEY=value reaches every key, matching each level
 * case-insensitively with underscores ignored (VOICEID__AUDIO__SAMPLE_RATE -> audio.sampleRate).
 * `<NAME>_FILE` variants read secrets from a file (systemd LoadCredential=, container secrets).
 */
export const ENV_MAPPING: ReadonlyArray<{ env: string; path: string; secretFile?: boolean }> = [
  { env: "VOICEID_ROOM", path: "room" },
  { env: "VOICEID_DATA_DIR", path: "dataDir" },
  { env: "VOICEID_MODELS_DIR", path: "modelsDir" },
  { env: "VOICEID_LOG_LEVEL", path: "logLevel" },
  { env: "VOICEID_AUDIO_SOURCE", path: "audio.source" },
  { env: "VOICEID_AUDIO_DEVICE", path: "audio.device" },
  { env: "VOICEID_AUDIO_FILE", path: "audio.file" },
  { env: "VOICEID_MQTT_ENABLED", path: "mqtt.enabled" },
  { env: "VOICEID_MQTT_URL", path: "mqtt.url" },
  { env: "VOICEID_MQTT_USERNAME", path: "mqtt.username" },
  { env: "VOICEID_MQTT_PASSWORD", path: "mqtt.password", secretFile: true },
  { env: "VOICEID_HTTP_ENABLED", path: "http.enabled" },
  { env: "VOICEID_HTTP_HOST", path: "http.host" },
  { env: "VOICEID_HTTP_PORT", path: "http.port" },
  { env: "VOICEID_HTTP_TOKEN", path: "http.token", secretFile: true },
  { env: "VOICEID_HOUSEHOLD_KEY", path: "household.key", secretFile: true },
];

/** Prefix of the generic form; the rest is the key path separated by double underscores. */
export const GENERIC_ENV_PREFIX = "VOICEID__";

/** Variables that select the file rather than override a key. */
export const CONFIG_PATH_ENV = "VOICEID_CONFIG";
