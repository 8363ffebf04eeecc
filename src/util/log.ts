export type LogLevel = "debug" | "info" | "warn" | "error";

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(scope: string): Logger;
}

/**
 * Line-oriented logger on stderr. Lines start with an ISO timestamp, except under systemd, where journald
 * (which sets JOURNAL_STREAM for the service) stamps every line itself.
 */
export function createLogger(
  level: LogLevel = "info",
  scope = "voiceid",
  stamped = process.env.JOURNAL_STREAM === undefined,
): Logger {
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (order[lvl] < order[level]) return;
    const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : "";
    const time = stamped ? `${new Date().toISOString()} ` : "";
    process.stderr.write(`${time}${lvl.toUpperCase().padEnd(5)} [${scope}] ${msg}${extra}\n`);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (s) => createLogger(level, `${scope}:${s}`, stamped),
  };
}

export interface LoggedProblem {
  level: "warn" | "error";
  scope: string;
  message: string;
  at: Date;
}

/**
 * The same logger, also telling `listener` about every warning and error (its children too): the
 * daemon shows the latest one to Home Assistant as "last error".
 */
export function observeProblems(
  logger: Logger,
  listener: (problem: LoggedProblem) => void,
  scope = "voiceid",
): Logger {
  const report = (level: "warn" | "error", message: string, fields?: Record<string, unknown>) => {
    // The detail usually travels in the "error" field ("audio input failed" {"error": "..."}).
    const detail = typeof fields?.error === "string" ? `: ${fields.error}` : "";
    listener({ level, scope, message: `${message}${detail}`, at: new Date() });
  };
  return {
    debug: (m, f) => logger.debug(m, f),
    info: (m, f) => logger.info(m, f),
    warn: (m, f) => {
      logger.warn(m, f);
      report("warn", m, f);
    },
    error: (m, f) => {
      logger.error(m, f);
      report("error", m, f);
    },
    child: (s) => observeProblems(logger.child(s), listener, `${scope}:${s}`),
  };
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
