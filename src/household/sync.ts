import { readFile } from "node:fs/promises";
import path from "node:path";
import type { MqttConnection } from "../mqtt/connection.js";
import type { SpeakerRegistry } from "../registry/registry.js";
import type { RegistryData } from "../registry/schema.js";
import type { Component } from "../util/lifecycle.js";
import type { Logger } from "../util/log.js";
import { AsyncMutex } from "../util/mutex.js";
import { HybridClock, newNodeId } from "./clock.js";
import { type HouseholdKey, open, SealError, seal } from "./crypto.js";
import {
  canonical,
  exists,
  knownIds,
  mergeReceived,
  normalize,
  type PersonRecord,
  recordOf,
  stampLocalEdits,
} from "./records.js";
import { decodeMessage, encodeMessage, type HouseholdMessage, WireError } from "./wire.js";

/**
 * Topics, all retained and sealed:
 *   <base>/_household/person/<speakerId>   the person's record (src/household/records.ts)
 *   <base>/_household/node/<nodeId>        a node's heartbeat: its room, version, people
 *   <base>/_household/clip/<speakerId>/<sampleId>   a kept clip, the WAV bytes (household.shareClips)
 */
export function householdTopics(baseTopic: string) {
  const root = `${baseTopic}/_household`;
  return {
    root,
    filters: [`${root}/person/+`, `${root}/node/+`, `${root}/clip/+/+`],
    person: (id: string) => `${root}/person/${id}`,
    node: (id: string) => `${root}/node/${id}`,
    clip: (id: string, sampleId: string) => `${root}/clip/${id}/${sampleId}`,
  };
}

export interface HouseholdSyncOptions {
  registry: SpeakerRegistry;
  connection: MqttConnection;
  baseTopic: string;
  key: HouseholdKey;
  room: string;
  version: string;
  logger: Logger;
  /** Quiet after the last household message before a (re)connected node offers what the broker lacks. */
  settleMs?: number;
  /** How often a node says it is there (default 60 s). */
  heartbeatMs?: number;
  /** Publish kept clips, and keep the ones others publish (household.shareClips). */
  shareClips?: boolean;
  /** A received clip was kept: samples may now be re-embedded with this node's encoder. */
  onClipKept?: () => void;
}

export interface HouseholdNodeSeen {
  node: string;
  room: string;
  /** ISO time of the newest message from that node. */
  lastHeard: string;
  self: boolean;
}

export interface HouseholdStatus {
  node: string;
  /** Caught up with the broker since the last (re)connect. */
  synced: boolean;
  nodes: HouseholdNodeSeen[];
  recordsIn: number;
  recordsOut: number;
  /** Messages that failed authentication or had no valid shape: never applied. */
  rejected: number;
  lastRejected: string | null;
}

const SETTLE_MAX_MS = 5000;
/** Larger than any record (50 samples of 8192-dimension voiceprints) or clip (2 minutes): refused unread. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Clips received before their sample's record, kept in memory until it arrives. */
const MAX_PENDING_CLIPS = 200;
const REJECT_LOG_INTERVAL_MS = 60_000;

/**
 * Keeps this node's registry and the household's retained records in step. Local edits (API, CLI, page)
 * are stamped and published; received records are merged and written through the registry's locked,
 * atomic path. After every (re)connect it waits for the retained records, then publishes the records the
 * broker lacks or holds older (a replayed old message is answered with the current one).
 */
export class HouseholdSync implements Component {
  private readonly log: Logger;
  private readonly topics: ReturnType<typeof householdTopics>;
  private readonly mutex = new AsyncMutex();
  private clock: HybridClock | null = null;
  private unsubscribe: Array<() => void> = [];
  private pending = new Map<string, PersonRecord[]>();
  private draining = false;
  private stampQueued = false;
  /** What the broker last said per person (canonical record text), to offer only what it lacks. */
  private readonly brokerView = new Map<string, string>();
  private readonly nodes = new Map<string, { room: string; lastHeard: string }>();
  /** Clips the broker holds ("<speakerId>/<sampleId>"), and received ones waiting for their sample. */
  private readonly brokerClips = new Set<string>();
  private readonly pendingClips = new Map<string, Buffer>();
  private settled = false;
  private settleTimer: NodeJS.Timeout | null = null;
  private settleDeadline = 0;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private recordsIn = 0;
  private recordsOut = 0;
  private rejected = 0;
  private lastRejected: string | null = null;
  private lastRejectLog = 0;

  constructor(private readonly options: HouseholdSyncOptions) {
    this.log = options.logger.child("household");
    this.topics = householdTopics(options.baseTopic);
  }

  get node(): string {
    return this.clock?.node ?? "";
  }

  async start(): Promise<void> {
    if (this.clock) return;
    const { registry, connection } = this.options;
    const clock = await registry.replicate((draft) => {
      const fresh = draft.household === undefined;
      draft.household ??= { node: newNodeId(), people: {} };
      const c = new HybridClock(draft.household.node, draft.household.clock);
      // People enrolled before sharing was switched on join the household now.
      const stamped = stampLocalEdits(draft, c);
      return { result: c, changed: fresh || stamped.length > 0 };
    });
    this.clock = clock;
    this.unsubscribe = [
      // Its own merges are stamped already; everything else (API, CLI, page, learning) may need stamps.
      registry.onChange((change) => {
        if (!(change.kind === "reloaded" && change.byHousehold)) this.stampLocalEdits();
      }),
      ...this.topics.filters.map((filter) =>
        connection.subscribeFilter(filter, (topic, payload) => this.receive(topic, payload)),
      ),
      connection.onConnect(() => this.connected()),
    ];
    const heartbeatMs = this.options.heartbeatMs ?? 60_000;
    this.heartbeatTimer = setInterval(() => this.publishHeartbeat(), heartbeatMs);
    this.heartbeatTimer.unref();
    if (connection.connected) this.connected();
    this.log.info("household sharing on", { node: clock.node, key: this.options.key.id });
  }

  async stop(): Promise<void> {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.heartbeatTimer = null;
    this.settleTimer = null;
    await this.mutex.idle();
  }

  status(): HouseholdStatus {
    const self = this.node;
    const nodes = [...this.nodes.entries()]
      .map(([node, seen]) => ({ node, ...seen, self: node === self }))
      .sort((a, b) => (a.room < b.room ? -1 : a.room > b.room ? 1 : a.node < b.node ? -1 : 1));
    return {
      node: self,
      synced: this.settled,
      nodes,
      recordsIn: this.recordsIn,
      recordsOut: this.recordsOut,
      rejected: this.rejected,
      lastRejected: this.lastRejected,
    };
  }

  // ---- receiving ----

  private receive(topic: string, payload: Buffer): void {
    // An empty retained message is a cleared topic, not a record.
    const [kind, id, sampleId] = topic.slice(this.topics.root.length + 1).split("/");
    if (payload.length === 0) {
      if (kind === "clip") this.brokerClips.delete(`${id}/${sampleId}`);
      return;
    }
    if (payload.length > MAX_MESSAGE_BYTES) {
      this.reject(topic, `${payload.length} bytes, more than any household message`);
      return;
    }
    if (kind === "clip") {
      this.receiveClip(topic, `${id}/${sampleId}`, payload);
      return;
    }
    let message: HouseholdMessage;
    try {
      message = decodeMessage(open(this.options.key, topic, payload));
    } catch (err) {
      if (!(err instanceof SealError || err instanceof WireError)) throw err;
      this.reject(topic, err.message);
      return;
    }
    if (message.kind !== kind || (message.kind === "person" ? message.record.id : message.from) !== id) {
      this.reject(topic, "the message does not belong on this topic");
      return;
    }
    this.recordsIn++;
    const seen = this.nodes.get(message.from);
    if (!seen || seen.lastHeard < message.sentAt)
      this.nodes.set(message.from, { room: message.room, lastHeard: message.sentAt });
    if (!this.settled) this.extendSettle();
    if (message.kind !== "person") return;
    this.brokerView.set(id, canonical(normalize(message.record)));
    const queue = this.pending.get(id) ?? [];
    queue.push(message.record);
    this.pending.set(id, queue);
    void this.drain();
  }

  private receiveClip(topic: string, key: string, payload: Buffer): void {
    let wav: Buffer;
    try {
      wav = open(this.options.key, topic, payload);
    } catch (err) {
      if (!(err instanceof SealError)) throw err;
      this.reject(topic, err.message);
      return;
    }
    this.recordsIn++;
    this.brokerClips.add(key);
    if (!this.options.shareClips) return;
    if (this.pendingClips.size >= MAX_PENDING_CLIPS)
      this.pendingClips.delete(this.pendingClips.keys().next().value as string);
    this.pendingClips.set(key, wav);
    void this.keepPendingClips();
  }

  /** Clips whose sample is here now: kept through the registry, then the encoder may use them. */
  private async keepPendingClips(): Promise<void> {
    let kept = 0;
    for (const [key, wav] of [...this.pendingClips]) {
      const [id, sampleId] = key.split("/");
      const sample = this.options.registry.get(id)?.samples.find((s) => s.id === sampleId);
      if (!sample) continue;
      this.pendingClips.delete(key);
      if (sample.clip !== undefined) continue;
      try {
        if (await this.options.registry.attachClip(id, sampleId, wav)) kept++;
      } catch (err) {
        this.log.warn("could not keep a clip from the household", {
          speaker: id,
          sample: sampleId,
          error: describe(err),
        });
      }
    }
    if (kept > 0) {
      this.log.info("kept clips from the household", { clips: kept });
      this.options.onClipKept?.();
    }
  }

  private reject(topic: string, why: string): void {
    this.rejected++;
    this.lastRejected = `${new Date().toISOString()} ${topic}: ${why}`;
    const now = Date.now();
    if (now - this.lastRejectLog >= REJECT_LOG_INTERVAL_MS) {
      this.lastRejectLog = now;
      this.log.warn("ignored a household message that is not from this household", {
        topic,
        why,
        rejected: this.rejected,
      });
    }
  }

  /** Merges everything received so far in one registry write. */
  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.pending.size > 0) {
        const batch = this.pending;
        this.pending = new Map();
        await this.mutex.run(async () => {
          const clock = this.clock as HybridClock;
          const toPublish = await this.options.registry.replicate((draft) => {
            // Local edits not stamped yet (their change event is still queued) first: merged unstamped, a
            // deletion would look like a person whose fields are merely unknown here.
            const back = new Set<string>(stampLocalEdits(draft, clock));
            let changed = back.size > 0;
            const removedClips: string[] = [];
            for (const [id, records] of batch) {
              for (const record of records) {
                const outcome = mergeReceived(draft, record, clock);
                changed ||= outcome.changed;
                if (outcome.publishBack) back.add(id);
                removedClips.push(...outcome.removedClips);
              }
            }
            // Names made unique after a merge are local edits like any other.
            for (const id of stampLocalEdits(draft, clock)) back.add(id);
            return { result: this.recordsFor(draft, back), changed, removedClips };
          });
          if (this.settled) this.publishRecords(toPublish);
        });
        if (this.pendingClips.size > 0) await this.keepPendingClips();
      }
    } catch (err) {
      this.log.error("could not apply household records", { error: describe(err) });
    } finally {
      this.draining = false;
    }
  }

  // ---- local edits ----

  private stampLocalEdits(): void {
    if (this.stampQueued) return;
    this.stampQueued = true;
    void this.mutex
      .run(async () => {
        this.stampQueued = false;
        const clock = this.clock;
        if (!clock) return;
        const records = await this.options.registry.replicate((draft) => {
          const changed = stampLocalEdits(draft, clock);
          return { result: this.recordsFor(draft, changed), changed: changed.length > 0 };
        });
        if (this.settled) this.publishRecords(records);
      })
      .catch((err: unknown) => this.log.error("could not share a registry change", { error: describe(err) }));
  }

  // ---- publishing ----

  private connected(): void {
    this.settled = false;
    this.settleDeadline = Date.now() + SETTLE_MAX_MS;
    this.extendSettle();
    this.publishHeartbeat();
  }

  /** Retained records arrive in a burst after subscribing: wait for it to end, at most SETTLE_MAX_MS. */
  private extendSettle(): void {
    if (this.settleTimer) clearTimeout(this.settleTimer);
    const delay = Math.max(0, Math.min(this.options.settleMs ?? 500, this.settleDeadline - Date.now()));
    this.settleTimer = setTimeout(() => {
      this.settleTimer = null;
      void this.offerWhatTheBrokerLacks();
    }, delay);
    this.settleTimer.unref();
  }

  private async offerWhatTheBrokerLacks(): Promise<void> {
    await this.drain();
    await this.mutex
      .run(async () => {
        const clock = this.clock as HybridClock;
        const records = await this.options.registry.replicate((draft) => {
          const stamped = stampLocalEdits(draft, clock);
          return { result: this.recordsFor(draft, knownIds(draft)), changed: stamped.length > 0 };
        });
        this.settled = true;
        this.publishRecords(
          records.filter((r) => this.brokerView.get(r.id) !== canonical(normalize(r))),
          false,
        );
        if (this.options.shareClips) void this.publishClips(records);
        this.log.info("household in step with the broker", {
          people: records.filter(exists).length,
          nodes: this.nodes.size,
        });
      })
      .catch((err: unknown) => this.log.error("could not offer household records", { error: describe(err) }));
  }

  private recordsFor(data: RegistryData, ids: Iterable<string>): PersonRecord[] {
    const out: PersonRecord[] = [];
    for (const id of ids) {
      const record = recordOf(data, id);
      if (record) out.push(structuredClone(record));
    }
    return out;
  }

  private publishRecords(records: PersonRecord[], withClips = true): void {
    if (withClips && this.options.shareClips) void this.publishClips(records);
    for (const record of records) {
      this.publish(this.topics.person(record.id), {
        kind: "person",
        from: this.node,
        room: this.options.room,
        sentAt: new Date().toISOString(),
        record,
      });
    }
  }

  /** Kept clips of these people the broker lacks; clips of removed samples and people are cleared. */
  private async publishClips(records: PersonRecord[]): Promise<void> {
    const { registry, connection } = this.options;
    for (const record of records) {
      const speaker = exists(record) ? registry.get(record.id) : undefined;
      for (const [sampleId, sample] of Object.entries(record.samples ?? {})) {
        const key = `${record.id}/${sampleId}`;
        const topic = this.topics.clip(record.id, sampleId);
        if (sample.r !== undefined) {
          if (this.brokerClips.delete(key)) connection.publishState(topic, "");
          continue;
        }
        const clip = speaker?.samples.find((s) => s.id === sampleId)?.clip;
        if (clip === undefined || this.brokerClips.has(key) || !connection.connected) continue;
        try {
          const wav = await readFile(path.join(registry.dataDir, clip));
          connection.publishState(topic, seal(this.options.key, topic, wav));
          this.brokerClips.add(key);
          this.recordsOut++;
        } catch (err) {
          this.log.warn("could not share a clip", { clip, error: describe(err) });
        }
      }
      if (!exists(record)) {
        for (const key of [...this.brokerClips].filter((k) => k.startsWith(`${record.id}/`))) {
          this.brokerClips.delete(key);
          connection.publishState(this.topics.clip(record.id, key.slice(record.id.length + 1)), "");
        }
      }
    }
  }

  private publishHeartbeat(): void {
    if (!this.clock) return;
    const people = this.options.registry.list().length;
    this.publish(this.topics.node(this.node), {
      kind: "node",
      from: this.node,
      room: this.options.room,
      sentAt: new Date().toISOString(),
      version: this.options.version,
      people,
    });
  }

  private publish(topic: string, message: HouseholdMessage): void {
    if (!this.options.connection.connected) return;
    this.options.connection.publishState(topic, seal(this.options.key, topic, encodeMessage(message)));
    this.recordsOut++;
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
