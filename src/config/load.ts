import { readFile, stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { z } from "zod";
import { PARSE_ONCE } from "../util/parse-once.js";
import { quoteInput } from "../util/quote.js";
import { CONFIG_PATH_ENV, ENV_MAPPING, GENERIC_ENV_PREFIX } from "./env.js";
import { ConfigError, type ConfigProblem } from "./errors.js";
import { closestKey, leafKind, objectKeys, schemaAt } from "./introspect.js";
import { createConfigSchema, type VoiceidConfig } from "./schema.js";

export interface LoadConfigOptions {
  /** Explicit file (the --config option). Must exist. */
  configPath?: string;
  /** Environment to read VOICEID_* from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Files tried in order when neither configPath nor $VOICEID_CONFIG is set. */
  searchPaths?: readonly string[];
  /** Highest precedence, e.g. from command-line options: dotted path -> value ({"audio.file": "x.wav"}). */
  overrides?: Readonly<Record<string, unknown>>;
}

export interface LoadedConfig {
  config: VoiceidConfig;
  /** The YAML file that was read, if any. */
  path?: string;
}

/** ./config/voiceid.yaml (a checkout or /opt/voiceid) then /etc/voiceid/voiceid.yaml. */
export function defaultSearchPaths(cwd = process.cwd()): string[] {
  return [resolve(cwd, "config", "voiceid.yaml"), "/etc/voiceid/voiceid.yaml"];
}

type Raw = Record<string, unknown>;

function isPlainObject(v: unknown): v is Raw {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Defaults + YAML file + VOICEID_* environment + overrides, validated once against the schema.
 * Throws ConfigError listing every problem (with key path and origin) at once.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  const schema = createConfigSchema(env);
  const problems: ConfigProblem[] = [];
  /** Origin of each value set from outside the file, by dotted path. */
  const origins = new Map<string, string>();

  const file = await findConfigFile(options, env);
  let raw: Raw = {};
  if (file) raw = await readYaml(file.path, file.reason);
  const fileLabel = file?.path;

  for (const entry of ENV_MAPPING) {
    const fromFile = entry.secretFile ? env[`${entry.env}_FILE`] : undefined;
    if (fromFile !== undefined && fromFile !== "") {
      try {
        const value = (await readFile(fromFile, "utf8")).trim();
        setFromString(schema, raw, entry.path, value, `${entry.env}_FILE`, origins, problems);
      } catch (err) {
        problems.push({
          path: entry.path,
          message: `cannot read ${fromFile}: ${(err as Error).message}`,
          source: `${entry.env}_FILE`,
        });
      }
    }
    const value = env[entry.env];
    if (value !== undefined) setFromString(schema, raw, entry.path, value, entry.env, origins, problems);
  }

  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(GENERIC_ENV_PREFIX) || value === undefined) continue;
    const path = genericEnvPath(schema, name.slice(GENERIC_ENV_PREFIX.length).split("__"));
    if (typeof path === "string") setFromString(schema, raw, path, value, name, origins, problems);
    else problems.push({ path: path.unknown, message: "unknown key", source: name });
  }

  for (const [path, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) continue;
    setPath(raw, path, value);
    origins.set(path, "command line");
  }

  const result = schema.safeParse(raw, PARSE_ONCE);
  if (result.success && problems.length === 0) return { config: result.data, path: file?.path };

  if (!result.success) {
    for (const issue of result.error.issues) problems.push(...describeIssue(schema, raw, issue, origins));
  }
  throw new ConfigError(problems, fileLabel);
}

async function findConfigFile(
  options: LoadConfigOptions,
  env: NodeJS.ProcessEnv,
): Promise<{ path: string; reason: string } | undefined> {
  if (options.configPath) return { path: resolve(options.configPath), reason: "--config" };
  const fromEnv = env[CONFIG_PATH_ENV];
  if (fromEnv) return { path: resolve(fromEnv), reason: CONFIG_PATH_ENV };
  for (const candidate of options.searchPaths ?? defaultSearchPaths()) {
    try {
      await stat(candidate);
      return { path: candidate, reason: "search" };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      // Present but unreadable: report it rather than silently running on defaults.
      return { path: candidate, reason: "search" };
    }
  }
  return undefined;
}

async function readYaml(path: string, reason: string): Promise<Raw> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const message = e.code === "ENOENT" ? "config file not found" : `cannot read config file: ${e.message}`;
    throw new ConfigError([{ path: "", message, source: reason === "search" ? undefined : reason }], path);
  }
  // Loaded only when there is a file to read: a command run without one starts faster.
  const { parseYaml } = await import("./yaml-file.js");
  const parsed = parseYaml(text);
  if ("problems" in parsed) throw new ConfigError(parsed.problems, path);
  const { value } = parsed;
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) {
    throw new ConfigError([{ path: "", message: "the file must contain a YAML mapping (key: value)" }], path);
  }
  return value;
}

/** Map VOICEID__AUDIO__SAMPLE_RATE's levels onto schema keys; returns the dotted path or the unknown part. */
function genericEnvPath(schema: z.core.$ZodType, levels: string[]): string | { unknown: string } {
  const path: string[] = [];
  for (const level of levels) {
    const keys = objectKeys(schema, path) ?? [];
    const wanted = level.replace(/_/g, "").toLowerCase();
    const key = keys.find((k) => k.toLowerCase() === wanted);
    if (!key) return { unknown: [...path, level.toLowerCase()].join(".") };
    path.push(key);
  }
  return path.join(".");
}

const TRUE = new Set(["true", "1", "yes", "on"]);
const FALSE = new Set(["false", "0", "no", "off"]);

/** Environment values are strings: type them by the schema so "8787" is a port and "false" a boolean. */
function setFromString(
  schema: z.core.$ZodType,
  raw: Raw,
  path: string,
  value: string,
  source: string,
  origins: Map<string, string>,
  problems: ConfigProblem[],
): void {
  let typed: unknown = value;
  switch (leafKind(schemaAt(schema, path.split(".")))) {
    case "number": {
      const n = Number(value);
      if (value.trim() !== "" && Number.isFinite(n)) typed = n;
      else {
        problems.push({ path, message: `expected a number, got ${quoteInput(value)}`, source });
        return;
      }
      break;
    }
    case "boolean": {
      const v = value.trim().toLowerCase();
      if (TRUE.has(v)) typed = true;
      else if (FALSE.has(v)) typed = false;
      else {
        problems.push({ path, message: `expected true or false, got ${quoteInput(value)}`, source });
        return;
      }
      break;
    }
    case "object":
      problems.push({ path, message: "is a section; set its keys instead", source });
      return;
    default:
      break;
  }
  if (setPath(raw, path, typed)) origins.set(path, source);
}

/** Set a dotted path, creating sections; false when a non-mapping is in the way (zod reports that). */
function setPath(raw: Raw, path: string, value: unknown): boolean {
  const keys = path.split(".");
  let node = raw;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next === undefined) node[key] = {};
    else if (!isPlainObject(next)) return false;
    node = node[key] as Raw;
  }
  node[keys[keys.length - 1]] = value;
  return true;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let node = raw;
  for (const key of path) {
    if (Array.isArray(node) && typeof key === "number") node = node[key];
    else if (!isPlainObject(node)) return undefined;
    else node = node[key as string];
  }
  return node;
}

const EXPECTED: Record<string, string> = {
  object: "a mapping",
  number: "a number",
  string: "text",
  boolean: "true or false",
  array: "a list",
};

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return quoteInput(v);
  return String(v);
}

/** A key path as the user writes it: "mqtt.url", "inputs[1].room". */
function keyPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) => (typeof key === "number" ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    "",
  );
}

function describeIssue(
  schema: z.core.$ZodType,
  raw: Raw,
  issue: z.core.$ZodIssue,
  origins: Map<string, string>,
): ConfigProblem[] {
  const dotted = keyPath(issue.path);
  const sourceOf = (path: string): string | undefined => {
    for (let p = path; p; p = p.includes(".") ? p.slice(0, p.lastIndexOf(".")) : "") {
      const origin = origins.get(p);
      if (origin) return origin;
    }
    return undefined;
  };

  switch (issue.code) {
    case "unrecognized_keys": {
      const known = objectKeys(schema, issue.path) ?? [];
      return issue.keys.map((key) => {
        const guess = closestKey(key, known);
        const path = dotted ? `${dotted}.${key}` : key;
        return {
          path,
          message: guess ? `unknown key (did you mean "${guess}"?)` : "unknown key",
          source: sourceOf(path),
        };
      });
    }
    case "invalid_type": {
      const value = valueAt(raw, issue.path);
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      const message = value === undefined ? "required" : `expected ${expected}, got ${describeValue(value)}`;
      return [{ path: dotted, message, source: sourceOf(dotted) }];
    }
    case "invalid_value": {
      const value = valueAt(raw, issue.path);
      const values = issue.values.map((v) => JSON.stringify(v)).join(", ");
      const message =
        value === undefined
          ? `required (one of ${values})`
          : `must be one of ${values}, got ${describeValue(value)}`;
      return [{ path: dotted, message, source: sourceOf(dotted) }];
    }
    default:
      return [{ path: dotted, message: issue.message, source: sourceOf(dotted) }];
  }
}

/** The configuration with secrets masked, for logs and `config show`-style output. */
export function redactConfig(config: VoiceidConfig): VoiceidConfig {
  const mask = (v: string | undefined) => (v === undefined ? undefined : "***");
  return {
    ...config,
    mqtt: { ...config.mqtt, password: mask(config.mqtt.password) },
    http: { ...config.http, token: mask(config.http.token) },
  };
}
