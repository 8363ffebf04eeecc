import { connectAsync, type IClientOptions, type MqttClient } from "mqtt";

/** A message as a second, independent MQTT client saw it. */
export interface RecordedMessage {
  topic: string;
  payload: string;
  retain: boolean;
}

/** Subscribes with a separate client and records everything, so tests observe the broker, not the bridge. */
export class MqttRecorder {
  readonly messages: RecordedMessage[] = [];
  private waiters: Array<() => void> = [];

  private constructor(private readonly client: MqttClient) {
    client.on("message", (topic, payload, packet) => {
      this.messages.push({ topic, payload: payload.toString(), retain: packet.retain });
      for (const wake of this.waiters) wake();
    });
  }

  static async start(
    url: string,
    topics: string[] = ["#"],
    options: IClientOptions = {},
  ): Promise<MqttRecorder> {
    const client = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    const recorder = new MqttRecorder(client);
    await client.subscribeAsync(topics, { qos: 1 });
    return recorder;
  }

  on(topic: string): RecordedMessage[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  /** Resolves with the first recorded message (past or future) matching `predicate`. */
  async waitFor(
    predicate: (m: RecordedMessage) => boolean,
    what: string,
    timeoutMs = 10_000,
  ): Promise<RecordedMessage> {
    return this.waitUntil(() => this.messages.find(predicate), what, timeoutMs);
  }

  /** Waits for a message on `topic` recorded after index `since` (default: any). */
  async next(topic: string, since = 0, timeoutMs = 10_000): Promise<RecordedMessage> {
    return this.waitUntil(
      () => this.messages.slice(since).find((m) => m.topic === topic),
      `a message on ${topic}`,
      timeoutMs,
    );
  }

  async waitUntil<T>(probe: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
    const found = probe();
    if (found !== undefined) return found;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== wake);
        const seen = this.messages.map((m) => `${m.topic} ${m.payload.slice(0, 80)}`).join("\n  ");
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; recorded:\n  ${seen}`));
      }, timeoutMs);
      const wake = () => {
        const value = probe();
        if (value === undefined) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== wake);
        resolve(value);
      };
      this.waiters.push(wake);
    });
  }

  async publish(topic: string, payload: string, retain = false): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1, retain });
  }

  async stop(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/**
 * The retained messages a brand-new subscriber gets for `topics`, keyed by topic. A marker message on a
 * private topic is published after subscribing: the broker delivers retained messages before handling our
 * later publish, so once the marker arrives the snapshot is complete (no sleeping).
 */
export async function readRetained(
  url: string,
  topics: string[],
  options: IClientOptions = {},
): Promise<Map<string, string>> {
  const client = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  const marker = `voiceid-test/marker/${Math.random().toString(36).slice(2)}`;
  const retained = new Map<string, string>();
  try {
    const done = new Promise<void>((resolve) => {
      client.on("message", (topic, payload, packet) => {
        if (topic === marker) resolve();
        else if (packet.retain) retained.set(topic, payload.toString());
      });
    });
    await client.subscribeAsync([...topics, marker], { qos: 1 });
    await client.publishAsync(marker, "done", { qos: 1 });
    await done;
    return retained;
  } finally {
    await client.endAsync(true);
  }
}
