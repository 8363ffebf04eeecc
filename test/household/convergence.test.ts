import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HybridClock } from "../../src/household/clock.js";
import {
  canonical,
  exists,
  mergeReceived,
  type PersonRecord,
  recordOf,
  stampLocalEdits,
} from "../../src/household/records.js";
import { uniqueSpeakerId } from "../../src/registry/names.js";
import { emptyRegistryData, nameKey, type RegistryData } from "../../src/registry/schema.js";

/**
 * Three nodes edit one household while the "broker" delays, duplicates, reorders and replays their
 * messages; afterwards every node, and a fourth that joins from the retained messages alone, must hold
 * the same registry, with exactly the people whose last creation came after their last deletion.
 */

const NAMES = ["Alice", "Bob", "Carol", "Dan", "Eve"];
const MODEL = "m";

interface Message {
  topic: string;
  record: PersonRecord;
}

interface SimNode {
  data: RegistryData;
  clock: HybridClock;
  inbox: Message[];
  online: boolean;
}

type Step =
  | { op: "create"; node: number; name: number }
  | { op: "rename"; node: number; who: number; name: number }
  | { op: "delete"; node: number; who: number }
  | { op: "addSample"; node: number; who: number; seed: number }
  | { op: "removeSample"; node: number; who: number }
  | { op: "threshold"; node: number; who: number; value: number | null }
  | { op: "learn"; node: number; who: number; seed: number }
  | { op: "forget"; node: number; who: number }
  | { op: "deliver"; node: number; pick: number; duplicate: boolean }
  | { op: "replay"; node: number; pick: number }
  | { op: "toggle"; node: number }
  | { op: "stamp"; node: number }
  | { op: "tick"; ms: number };

const node = fc.integer({ min: 0, max: 2 });
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    arbitrary: fc.record({ op: fc.constant("create" as const), node, name: fc.nat(NAMES.length - 1) }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      op: fc.constant("rename" as const),
      node,
      who: fc.nat(),
      name: fc.nat(NAMES.length - 1),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ op: fc.constant("delete" as const), node, who: fc.nat() }), weight: 2 },
  {
    arbitrary: fc.record({ op: fc.constant("addSample" as const), node, who: fc.nat(), seed: fc.nat() }),
    weight: 2,
  },
  { arbitrary: fc.record({ op: fc.constant("removeSample" as const), node, who: fc.nat() }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant("threshold" as const),
      node,
      who: fc.nat(),
      value: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ op: fc.constant("learn" as const), node, who: fc.nat(), seed: fc.nat() }),
    weight: 1,
  },
  { arbitrary: fc.record({ op: fc.constant("forget" as const), node, who: fc.nat() }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant("deliver" as const),
      node,
      pick: fc.nat(),
      duplicate: fc.boolean(),
    }),
    weight: 6,
  },
  { arbitrary: fc.record({ op: fc.constant("replay" as const), node, pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("toggle" as const), node }), weight: 1 },
  // Edits are stamped when their change event comes round: later, or first thing in the next merge.
  { arbitrary: fc.record({ op: fc.constant("stamp" as const), node }), weight: 3 },
  {
    arbitrary: fc.record({ op: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 3000 }) }),
    weight: 2,
  },
);

class Household {
  now = 1_765_000_000_000;
  readonly nodes: SimNode[];
  /** What the broker retains per topic: the last message it received there. */
  readonly retained = new Map<string, Message>();
  /** Every message ever sent, for replays of old ones. */
  readonly history: Message[] = [];
  /** Per person: the highest creation and deletion stamps any node made. */
  readonly issued = new Map<string, { inc?: string; del?: string }>();
  /** Per person: the creations some node deleted; none may come back, whatever the timing. */
  readonly deleted = new Map<string, Set<string>>();
  counter = 0;

  constructor(skews: number[]) {
    this.nodes = skews.map((skew, i) => {
      const id = `00000000000${i}`;
      const data = emptyRegistryData();
      data.household = { node: id, people: {} };
      return { data, clock: new HybridClock(id, undefined, () => this.now + skew), inbox: [], online: true };
    });
  }

  publish(from: SimNode, id: string): void {
    const record = recordOf(from.data, id);
    if (!record) return;
    const message = { topic: id, record: JSON.parse(JSON.stringify(record)) as PersonRecord };
    this.retained.set(id, message);
    this.history.push(message);
    for (const n of this.nodes) if (n.online) n.inbox.push(message);
  }

  /** What the registry does after an edit: stamp it, remember what was issued, publish. */
  commitLocal(n: SimNode): void {
    const before = structuredClone(n.data.household?.people ?? {});
    for (const id of stampLocalEdits(n.data, n.clock)) {
      const after = n.data.household?.people[id];
      const seen = this.issued.get(id) ?? {};
      if (after && after.inc !== before[id]?.inc && (seen.inc === undefined || after.inc > seen.inc))
        seen.inc = after.inc;
      if (
        after?.del !== undefined &&
        after.del !== before[id]?.del &&
        (seen.del === undefined || after.del > seen.del)
      )
        seen.del = after.del;
      this.issued.set(id, seen);
      if (n.online) this.publish(n, id);
    }
  }

  /** As HouseholdSync.drain: edits not stamped yet first, then the merge, then names made unique. */
  receive(n: SimNode, message: Message): void {
    this.commitLocal(n);
    const outcome = mergeReceived(n.data, structuredClone(message.record), n.clock);
    if (outcome.changed) this.commitLocal(n);
    if (outcome.publishBack) this.publish(n, message.topic);
  }

  /** A node coming back: it reads the retained messages, then offers what the broker lacks. */
  reconnect(n: SimNode): void {
    n.online = true;
    n.inbox = [];
    this.commitLocal(n);
    for (const message of this.retained.values()) this.receive(n, message);
    for (const id of Object.keys(n.data.household?.people ?? {})) {
      const retained = this.retained.get(id);
      const mine = recordOf(n.data, id);
      if (!retained || canonical(retained.record) !== canonical(mine)) this.publish(n, id);
    }
  }

  run(s: Step): void {
    if (s.op === "tick") {
      this.now += s.ms;
      return;
    }
    // Two edits on one machine are never in the same millisecond (a creation's time tells it apart).
    this.now += 1;
    const n = this.nodes[s.node];
    const speakers = n.data.speakers;
    const who = "who" in s && speakers.length > 0 ? speakers[s.who % speakers.length] : undefined;
    const nameFree = (name: string, except?: string) =>
      !speakers.some((x) => x.id !== except && (nameKey(x.name) === nameKey(name) || x.id === nameKey(name)));
    switch (s.op) {
      case "create": {
        const name = NAMES[s.name];
        if (!nameFree(name)) return;
        const taken = new Set(speakers.flatMap((x) => [x.id, nameKey(x.name)]));
        // As the registry does: the wall time of the creation, which is never a synced person's stamp time.
        const at = new Date(this.now - 86_400_000).toISOString();
        speakers.push({ id: uniqueSpeakerId(name, taken), name, createdAt: at, updatedAt: at, samples: [] });
        break;
      }
      case "rename":
        if (!who || !nameFree(NAMES[s.name], who.id)) return;
        who.name = NAMES[s.name];
        break;
      case "delete": {
        if (!who) return;
        const record = recordOf(n.data, who.id);
        if (record && exists(record))
          this.deleted.set(who.id, (this.deleted.get(who.id) ?? new Set()).add(record.inc));
        n.data.speakers = speakers.filter((x) => x !== who);
        break;
      }
      case "addSample":
        if (!who || who.samples.length >= 6) return;
        who.samples.push({
          id: `s${this.counter++}`,
          createdAt: new Date(this.now).toISOString(),
          speechSeconds: 3,
          durationSeconds: 4,
          source: "http",
          voiceprints: { [MODEL]: [s.seed % 7, 1, 2] },
        });
        break;
      case "removeSample":
        if (!who || who.samples.length === 0) return;
        who.samples.shift();
        break;
      case "threshold":
        if (!who) return;
        if (s.value === null) delete who.thresholds;
        else who.thresholds = { [MODEL]: s.value };
        break;
      case "learn":
        if (!who) return;
        who.learned = [
          ...(who.learned ?? []),
          {
            id: `l${this.counter++}`,
            createdAt: new Date(this.now + this.counter).toISOString(),
            modelId: MODEL,
            speechSeconds: 2,
            room: "kitchen",
            voiceprint: [s.seed % 5, 1, 1],
          },
        ].slice(-20);
        break;
      case "forget":
        if (!who?.learned?.length) return;
        delete who.learned;
        break;
      case "deliver": {
        if (n.inbox.length === 0) return;
        const index = s.pick % n.inbox.length;
        const message = n.inbox[index];
        if (!s.duplicate) n.inbox.splice(index, 1);
        this.receive(n, message);
        return;
      }
      case "replay":
        if (this.history.length > 0) this.receive(n, this.history[s.pick % this.history.length]);
        return;
      case "toggle":
        if (n.online) n.online = false;
        else this.reconnect(n);
        return;
      case "stamp":
        this.commitLocal(n);
        return;
    }
  }

  /** Everyone back online, every message delivered, until nothing more is sent. */
  settle(): void {
    for (const n of this.nodes) {
      if (!n.online) this.reconnect(n);
      else this.commitLocal(n);
    }
    for (let guard = 0; guard < 10_000; guard++) {
      const n = this.nodes.find((x) => x.inbox.length > 0);
      if (!n) return;
      this.receive(n, n.inbox.shift() as Message);
    }
    throw new Error("the household never went quiet");
  }
}

/** What a user sees of a registry: people, names, thresholds, samples and learned voiceprints. */
function view(data: RegistryData): string {
  return canonical(
    [...data.speakers]
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((s) => ({
        id: s.id,
        name: s.name,
        thresholds: s.thresholds ?? {},
        samples: s.samples.map((x) => [x.id, x.voiceprints]),
        learned: (s.learned ?? []).map((l) => l.id),
      })),
  );
}

describe("household convergence (property)", () => {
  it("3 nodes with delays, duplicates, reorderings, replays and outages end with one registry", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -5000, max: 5000 }), { minLength: 3, maxLength: 3 }),
        fc.array(step, { minLength: 5, maxLength: 60 }),
        (skews, steps) => {
          const household = new Household(skews);
          for (const s of steps) household.run(s);
          household.settle();
          const views = household.nodes.map((n) => view(n.data));
          expect(views[1]).toBe(views[0]);
          expect(views[2]).toBe(views[0]);
          // A node that joins later catches up from the retained messages alone.
          const late = new Household([0]).nodes[0];
          for (const message of household.retained.values()) {
            mergeReceived(late.data, structuredClone(message.record), late.clock);
            stampLocalEdits(late.data, late.clock);
          }
          expect(view(late.data)).toBe(views[0]);
          // Nobody resurrected, nobody lost: a person is there exactly when created after their last deletion.
          const ids = new Set(household.nodes[0].data.speakers.map((s) => s.id));
          for (const [id, { inc, del }] of household.issued) {
            const expected = inc !== undefined && (del === undefined || inc > del);
            expect(ids.has(id), `${id}: inc ${inc} del ${del}`).toBe(expected);
            const record = recordOf(household.nodes[0].data, id);
            expect(record !== undefined && exists(record)).toBe(expected);
          }
          for (const [id, creations] of household.deleted) {
            const record = recordOf(household.nodes[0].data, id);
            if (record && exists(record)) expect(creations.has(record.inc), `${id} came back`).toBe(false);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
