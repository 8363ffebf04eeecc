/** Every long-lived part of the daemon: constructors only assign, `start()` acquires, `stop()` releases. */
export interface Component {
  start(): Promise<void>;
  /** Idempotent: a second call resolves without doing anything. */
  stop(): Promise<void>;
}
