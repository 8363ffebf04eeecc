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

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
