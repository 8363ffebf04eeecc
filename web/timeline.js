// @ts-check
/**
 * The page's timeline: who talked when over the last 10 minutes, hour or day, drawn as plain SVG (no
 * library: a few lanes of rectangles do not earn one, and the page has no build step). One lane per
 * enrolled person, one per voice nobody enrolled (its voice id, when the daemon groups them), one for
 * other strangers and one for turns it could not tell. Names and ids are put in as text, never markup.
 */

const SVG = "http://www.w3.org/2000/svg";
const LANE_HEIGHT = 26;
const BAR_HEIGHT = 18;
const AXIS_HEIGHT = 22;
/** A two-second turn on a day's timeline would be a hundredth of a pixel: every bar is at least this wide. */
const MIN_BAR_WIDTH = 2;
/** Person lanes cycle through this many colours (style.css: .turn.c0 … .c7). */
const PERSON_COLOURS = 8;
const VOICE_COLOURS = 4;
/** Tick spacings, minutes: the smallest that leaves room for its label is taken. */
const TICK_MINUTES = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360];
const TICK_LABEL_PX = 70;

/**
 * A turn as GET /api/timeline gives it; live detections are turned into the same shape.
 * @typedef {{ room: string, turnId: number, startedAt: string, durationS: number, speakerId: string | null, speaker: string | null, reason: string | null, score: number | null, threshold: number, voice: string | null, open: boolean }} Turn
 * @typedef {{ key: string, label: string, className: string }} Lane
 */

/**
 * The turn a live detection (/api/events) describes, or null for what the timeline leaves out: voice
 * commands (Home Assistant's audio, not the room's) and ignored voices.
 * @param {{ type: string, turnId: number, room?: string, commandId?: number, speakerId: string | null, speaker: string | null, reason: string | null, score: number | null, threshold: number, startedAt: string, durationS?: number, voice?: string | null }} d
 * @returns {Turn | null}
 */
export function turnOfDetection(d) {
  if (d.commandId !== undefined || d.reason === "ignored") return null;
  return {
    room: d.room ?? "",
    turnId: d.turnId,
    startedAt: d.startedAt,
    durationS: d.durationS ?? 0,
    speakerId: d.speakerId,
    speaker: d.speaker,
    reason: d.reason,
    score: d.score,
    threshold: d.threshold,
    voice: typeof d.voice === "string" ? d.voice : null,
    open: d.type !== "stopped",
  };
}

/**
 * One turn's identity across its decisions and across reloads (turn ids start again with each run).
 * @param {Pick<Turn, "room" | "startedAt" | "turnId">} t
 */
export const turnKey = (t) => `${t.room}|${t.startedAt}|${t.turnId}`;

/** @param {Turn} t */
const startOf = (t) => Date.parse(t.startedAt);
/** @param {Turn} t */
const endOf = (t) => startOf(t) + t.durationS * 1000;

/** @param {string} tag @param {Record<string, string | number>} [attrs] @param {string} [text] */
function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** @param {number} ms */
const clock = (ms) =>
  new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
/** @param {number} ms */
const tickLabel = (ms) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

/** @param {string} voice "voice-12" -> 12, for ordering voices as they were first heard */
const voiceNumber = (voice) => Number(/(\d+)$/.exec(voice)?.[1] ?? Number.MAX_SAFE_INTEGER);

export class Timeline {
  /**
   * @param {HTMLElement} container where the SVG goes
   * @param {() => ReadonlyMap<string, string>} people enrolled people, id -> name, in the page's order
   */
  constructor(container, people) {
    this.container = container;
    this.people = people;
    /** @type {Map<string, Turn>} */
    this.turns = new Map();
    this.minutes = 60;
  }

  /**
   * Shows the last `minutes`, with `turns` (from GET /api/timeline) merged into what the page has: live
   * turns that arrived while the answer was on its way stay.
   * @param {Turn[]} turns @param {number} minutes
   */
  merge(turns, minutes) {
    this.minutes = minutes;
    for (const t of turns) this.add(t, false);
    this.render();
  }

  /** Forgets a turn that turned out to be left out (an ignored voice). @param {Pick<Turn, "room" | "startedAt" | "turnId">} t */
  drop(t) {
    if (this.turns.delete(turnKey(t))) this.render();
  }

  /**
   * Adds or updates a turn. An ended turn is never replaced by an older open view of it (a snapshot
   * taken before its end may arrive after the live event that ended it).
   * @param {Turn} turn @param {boolean} [render]
   */
  add(turn, render = true) {
    const key = turnKey(turn);
    const known = this.turns.get(key);
    if (known && !known.open && turn.open) return;
    this.turns.set(key, turn);
    if (render) this.render();
  }

  /** @param {Turn} t @returns {Lane} */
  laneOf(t) {
    if (t.speakerId !== null)
      return {
        key: `person:${t.speakerId}`,
        label: this.people().get(t.speakerId) ?? t.speaker ?? t.speakerId,
        className: "",
      };
    if (t.voice !== null) return { key: `voice:${t.voice}`, label: t.voice, className: "" };
    if (t.reason === "unknown") return { key: "unknown", label: "Not enrolled", className: "unknown" };
    return { key: "unsure", label: "Not sure", className: "unsure" };
  }

  /** Every enrolled person, then anyone else named in range, then voices by id, then the rest. @param {Turn[]} turns */
  lanes(turns) {
    /** @type {Map<string, Lane>} */
    const lanes = new Map();
    for (const [id, name] of this.people())
      lanes.set(`person:${id}`, { key: `person:${id}`, label: name, className: "" });
    const byKind = (/** @type {string} */ prefix) =>
      turns.map((t) => this.laneOf(t)).filter((l) => l.key.startsWith(prefix));
    for (const lane of byKind("person:")) if (!lanes.has(lane.key)) lanes.set(lane.key, lane);
    const voices = byKind("voice:").sort((a, b) => voiceNumber(a.label) - voiceNumber(b.label));
    for (const lane of [...voices, ...byKind("unknown"), ...byKind("unsure")])
      if (!lanes.has(lane.key)) lanes.set(lane.key, lane);
    let person = 0;
    let voice = 0;
    for (const lane of lanes.values()) {
      if (lane.key.startsWith("person:")) lane.className = `c${person++ % PERSON_COLOURS}`;
      else if (lane.key.startsWith("voice:")) lane.className = `voice v${voice++ % VOICE_COLOURS}`;
    }
    return [...lanes.values()];
  }

  /** Draws the range ending now; turns that left it are forgotten. */
  render() {
    const now = Date.now();
    const from = now - this.minutes * 60_000;
    for (const [key, t] of this.turns) if (endOf(t) < from) this.turns.delete(key);
    const turns = [...this.turns.values()].sort((a, b) => startOf(a) - startOf(b));
    const lanes = this.lanes(turns);
    const width = Math.max(280, this.container.clientWidth || 600);
    const labelWidth = width < 500 ? 84 : 120;
    const plotWidth = width - labelWidth - 8;
    // With nobody enrolled and nothing heard there is no lane: one row of room for "Nobody talked".
    const axisY = Math.max(1, lanes.length) * LANE_HEIGHT;
    const height = axisY + AXIS_HEIGHT;
    // Clamped to the range: a turn begun before it starts at its left edge; one timed a moment ahead of
    // this browser's clock (the daemon's machine may run ahead) ends at its right edge.
    const x = (/** @type {number} */ ms) =>
      labelWidth + ((Math.min(Math.max(ms, from), now) - from) / (now - from)) * plotWidth;

    const range =
      this.minutes >= 120
        ? `${this.minutes / 60} hours`
        : this.minutes === 60
          ? "hour"
          : `${this.minutes} minutes`;
    const root = svg("svg", {
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: "img",
      "aria-label": `Who talked in the last ${range}: ${turns.length} turns`,
    });
    const laneY = new Map(lanes.map((lane, i) => [lane.key, i * LANE_HEIGHT]));
    for (const lane of lanes) {
      const y = laneY.get(lane.key) ?? 0;
      const row = svg("g", { class: "lane", "data-lane": lane.key });
      row.append(
        svg("rect", { class: "lane-bg", x: labelWidth, y, width: plotWidth, height: LANE_HEIGHT }),
        svg("text", { class: "lane-label", x: labelWidth - 6, y: y + LANE_HEIGHT / 2 }, lane.label),
      );
      root.append(row);
    }
    const laneByKey = new Map(lanes.map((lane) => [lane.key, lane]));
    for (const t of turns) {
      const lane = laneByKey.get(this.laneOf(t).key);
      if (!lane) continue;
      const left = x(startOf(t));
      const bar = svg("rect", {
        class: `turn ${lane.className}${t.open ? " open" : ""}`,
        "data-lane": lane.key,
        "data-turn": turnKey(t),
        x: left,
        y: (laneY.get(lane.key) ?? 0) + (LANE_HEIGHT - BAR_HEIGHT) / 2,
        width: Math.max(MIN_BAR_WIDTH, x(endOf(t)) - left),
        height: BAR_HEIGHT,
        rx: 3,
      });
      const score =
        t.score === null ? "no score" : `score ${t.score.toFixed(2)} (threshold ${t.threshold.toFixed(2)})`;
      const when = `${clock(startOf(t))}, ${t.durationS.toFixed(1)} s${t.open ? " so far" : ""}`;
      bar.append(svg("title", {}, `${lane.label}: ${when}, ${score}`));
      root.append(bar);
    }
    root.append(
      svg("line", { class: "axis", x1: labelWidth, x2: labelWidth + plotWidth, y1: axisY, y2: axisY }),
    );
    const fit = Math.max(2, Math.floor(plotWidth / TICK_LABEL_PX));
    const step = (TICK_MINUTES.find((m) => this.minutes / m <= fit) ?? 360) * 60_000;
    for (let tick = Math.ceil(from / step) * step; tick <= now; tick += step) {
      const tx = x(tick);
      root.append(svg("line", { class: "tick", x1: tx, x2: tx, y1: 0, y2: axisY + 4 }));
      // A label centred on a tick at the very right would be cut by the edge.
      if (tx < width - TICK_LABEL_PX / 2)
        root.append(svg("text", { class: "tick-label", x: tx, y: axisY + 16 }, tickLabel(tick)));
    }
    if (turns.length === 0)
      root.append(
        svg("text", { class: "empty", x: labelWidth + plotWidth / 2, y: axisY / 2 + 4 }, "Nobody talked"),
      );
    this.container.replaceChildren(root);
  }
}
