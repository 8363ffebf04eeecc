// @ts-check
/**
 * voiceid's web page: people and their samples, enrolment by speaking into the browser, who is talking
 * now, thresholds, status and the mute switch. Everything comes from the daemon's own API; every value
 * from the registry is put on the page as text (never as markup: names are user input).
 */

import { Timeline, turnKey, turnOfDetection } from "./timeline.js";
import { wireVoices } from "./voices.js";
import { encodeWav, levelDb, resample, TARGET_RATE } from "./wav.js";

/** Sentences to read while recording: varied sounds make a better voiceprint than counting. */
const PROMPTS = [
  "The quick brown fox jumps over the lazy dog while the kettle starts to whistle.",
  "Please turn on the kitchen lights and set the living room to twenty one degrees.",
  "Yesterday we walked along the river, watched the boats, and bought fresh bread.",
  "My favourite songs are the ones I can sing along to on a long drive.",
];
const TOKEN_KEY = "voiceid-token";

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * @param {string} tag
 * @param {{ text?: string, className?: string, attrs?: Record<string, string> }} [options]
 * @param {(Node | string)[]} [children]
 */
function el(tag, options = {}, children = []) {
  const node = document.createElement(tag);
  if (options.text !== undefined) node.textContent = options.text;
  if (options.className) node.className = options.className;
  for (const [k, v] of Object.entries(options.attrs ?? {})) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

/** @param {string} text @param {() => void | Promise<void>} onClick @param {string} [className] */
function button(text, onClick, className) {
  const b = /** @type {HTMLButtonElement} */ (el("button", { text, className, attrs: { type: "button" } }));
  b.addEventListener("click", () => {
    void run(onClick);
  });
  return b;
}

/** Shows an action's error in the page's message line instead of losing it. @param {() => unknown} action */
async function run(action) {
  try {
    await action();
  } catch (err) {
    say(err instanceof Error ? err.message : String(err), true);
  }
}

/** @param {string} text @param {boolean} [isError] */
function say(text, isError = false) {
  const m = $("message");
  m.textContent = text;
  m.className = isError ? "error" : "";
}

// ---- API -------------------------------------------------------------------------------------------

class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** @type {Promise<void> | null} */
let asking = null;

/** Asks for the token once (one dialog however many requests wait for it). */
function askForToken(/** @type {string} */ error = "") {
  if (asking) return asking;
  const dialog = /** @type {HTMLDialogElement} */ ($("token-dialog"));
  const input = /** @type {HTMLInputElement} */ ($("token"));
  $("token-error").textContent = error;
  asking = new Promise((resolve) => {
    const form = $("token-form");
    /** @param {Event} e */
    const submitted = (e) => {
      e.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      form.removeEventListener("submit", submitted);
      dialog.close();
      asking = null;
      resolve();
    };
    form.addEventListener("submit", submitted);
    dialog.showModal();
    input.focus();
  });
  return asking;
}

/**
 * A request to the daemon's API with the token when there is one; asks for the token on 401 and retries.
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
async function request(path, init = {}) {
  for (;;) {
    const headers = new Headers(init.headers);
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.set("Authorization", `Bearer ${token}`);
    const res = await fetch(path, { ...init, headers });
    if (res.status === 401) {
      await askForToken(token ? "That token was refused." : "");
      continue;
    }
    if (!res.ok) {
      /** @type {{ error?: { code?: string, message?: string } }} */
      const body = await res.json().catch(() => ({}));
      throw new ApiError(
        res.status,
        body.error?.code ?? "http_error",
        body.error?.message ?? `HTTP ${res.status}`,
      );
    }
    return res;
  }
}

/** @param {string} path @param {RequestInit} [init] */
const getJson = async (path, init) => (await request(path, init)).json();

/** @param {string} method @param {string} path @param {unknown} body */
const sendJson = (method, path, body) =>
  getJson(path, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

// ---- status and the mute switch ---------------------------------------------------------------------

async function refreshStatus() {
  const res = await fetch("/health");
  /** @type {{ status: string, encoder: { model: string, provider: string, reason: string } | null, components: Record<string, { state: string, detail?: string }>, inputs?: { room: string, state: string, detail?: string }[], household?: Parameters<typeof householdRows>[0] }} */
  const health = await res.json();
  const inputs = health.inputs ?? [];
  rooms = inputs.length;
  const list = $("status");
  const rows = [];
  const names = {
    audio: "Audio input",
    vad: "Voice detection",
    model: "Encoder",
    mqtt: "MQTT",
    registry: "Registry",
  };
  for (const [key, label] of Object.entries(names)) {
    const c = health.components[key];
    if (!c) continue;
    if (key === "audio" && inputs.length > 1) {
      // Several microphones: one row each, by room.
      for (const input of inputs)
        rows.push(
          el("dt", { text: `${label}: ${input.room}` }),
          el("dd", {
            text: input.detail ? `${input.state}: ${input.detail}` : input.state,
            className: input.state === "ok" || input.state === "disabled" ? "state-ok" : "state-bad",
          }),
        );
      continue;
    }
    const value =
      key === "model" && health.encoder ? `${health.encoder.model} on ${health.encoder.provider}` : c.state;
    const text = c.detail && key !== "model" ? `${value}: ${c.detail}` : value;
    rows.push(
      el("dt", { text: label }),
      el("dd", { text, className: c.state === "ok" || c.state === "disabled" ? "state-ok" : "state-bad" }),
    );
  }
  if (health.encoder)
    rows.push(el("dt", { text: "Why this encoder" }), el("dd", { text: health.encoder.reason }));
  if (health.household) rows.push(...householdRows(health.household));
  list.replaceChildren(...rows);
}

/**
 * The household this node shares its registry with: whether it is in step, the nodes seen (room, when
 * last heard from) and the sync counters.
 * @param {{ synced: boolean, nodes: { node: string, room: string, lastHeard: string, self: boolean }[], recordsIn: number, recordsOut: number, rejected: number }} household
 */
function householdRows(household) {
  const rows = [
    el("dt", { text: "Household" }),
    el("dd", {
      text: `${household.synced ? "in step" : "catching up"}: records in ${household.recordsIn}, out ${household.recordsOut}, rejected ${household.rejected}`,
      className: household.synced && household.rejected === 0 ? "state-ok" : "state-bad",
    }),
  ];
  for (const node of household.nodes) {
    const heard = new Date(node.lastHeard).toLocaleTimeString();
    rows.push(
      el("dt", { text: node.self ? `${node.room} (this node)` : node.room }),
      el("dd", { text: `last heard ${heard}` }),
    );
  }
  return rows;
}

async function refreshListening() {
  const box = /** @type {HTMLInputElement} */ ($("listening"));
  /** @type {{ listening: boolean }} */
  const state = await getJson("/api/listening");
  box.checked = state.listening;
  box.disabled = false;
}

function wireListening() {
  const box = /** @type {HTMLInputElement} */ ($("listening"));
  box.addEventListener("change", () => {
    void run(async () => {
      box.disabled = true;
      try {
        const state = await sendJson("POST", "/api/listening", { listening: box.checked });
        box.checked = state.listening;
        say(state.listening ? "Listening again." : "Muted: nothing is recorded or processed.");
      } finally {
        box.disabled = false;
        await refreshStatus();
      }
    });
  });
}

// ---- recording in the browser ---------------------------------------------------------------------

/**
 * Records `seconds` from the browser's microphone after a 3-2-1 countdown, with a level meter; returns a
 * 16 kHz WAV. The browser's own echo cancellation and noise suppression are off: they change the voice.
 * @param {number} seconds
 * @param {HTMLElement} panel where the countdown, the meter and the prompt appear
 * @returns {Promise<Uint8Array>}
 */
async function recordInBrowser(seconds, panel) {
  if (!navigator.mediaDevices?.getUserMedia)
    throw new Error("This browser cannot record here (a microphone needs https or localhost).");
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  const status = el("p", { attrs: { "aria-live": "polite" } });
  const meter = /** @type {HTMLMeterElement} */ (
    el("meter", {
      attrs: { min: "-60", max: "0", low: "-45", high: "-6", value: "-60", "aria-label": "Input level" },
    })
  );
  const prompt = el("p", { className: "prompt", text: PROMPTS[Math.floor(Math.random() * PROMPTS.length)] });
  panel.replaceChildren(status, meter, prompt);
  const context = new AudioContext();
  try {
    for (let n = 3; n > 0; n--) {
      status.textContent = `Recording in ${n}…`;
      await sleep(1000);
    }
    const source = context.createMediaStreamSource(stream);
    // ScriptProcessor: deprecated but in every browser, and this page records seconds, not hours.
    const processor = context.createScriptProcessor(4096, 1, 1);
    /** @type {Float32Array[]} */
    const chunks = [];
    processor.onaudioprocess = (e) => {
      const data = e.inputBuffer.getChannelData(0);
      chunks.push(new Float32Array(data));
      meter.value = Math.max(-60, levelDb(data));
    };
    source.connect(processor);
    processor.connect(context.destination);
    for (let left = seconds; left > 0; left--) {
      status.textContent = `Recording: read this aloud, ${left} s left`;
      await sleep(1000);
    }
    processor.disconnect();
    source.disconnect();
    status.textContent = "Sending…";
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const samples = new Float32Array(total);
    let at = 0;
    for (const c of chunks) {
      samples.set(c, at);
      at += c.length;
    }
    return encodeWav(resample(samples, context.sampleRate, TARGET_RATE), TARGET_RATE);
  } finally {
    for (const track of stream.getTracks()) track.stop();
    await context.close();
  }
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- people --------------------------------------------------------------------------------------

/**
 * @typedef {{ id: string, createdAt: string, source: string, speechSeconds: number, durationSeconds: number, hasClip: boolean, models: string[], simulatedRooms: number }} SampleView
 * @typedef {{ enrolled: number, simulated: number, learned: number }} VoiceprintCounts
 * @typedef {{ id: string, name: string, threshold: number | null, enrolled: boolean, consistency: number | null, voiceprints: VoiceprintCounts, learnedAt: string | null, sampleCount: number, speechSeconds: number, samples: SampleView[] }} SpeakerView
 * @typedef {{ sampleId: string, speechSeconds: number, consistency: { mean: number, min: number } | null, warnings: string[], hints: string[] }} ClipFeedback
 */

/** @type {Map<string, string>} id -> name, for the live view's scores */
const names = new Map();
/** People whose panels are open, kept open across refreshes. */
const open = new Set();
/** The last enrolment feedback per person, kept across refreshes. @type {Map<string, Node[]>} */
const lastFeedback = new Map();

async function refreshPeople() {
  /** @type {{ speakers: SpeakerView[] }} */
  const { speakers } = await getJson("/api/speakers");
  names.clear();
  for (const s of speakers) names.set(s.id, s.name);
  $("people").replaceChildren(...speakers.map(personCard));
  timeline.render();
  if (speakers.length === 0)
    $("people").append(el("li", { text: "Nobody yet: add a person, then record a few samples." }));
}

/** @param {SpeakerView} s */
function personCard(s) {
  const card = el("li", { className: "person", attrs: { "data-speaker": s.id } });
  const threshold = s.threshold === null ? "default threshold" : `threshold ${s.threshold}`;
  const consistency = s.consistency === null ? "" : `, consistency ${s.consistency.toFixed(2)}`;
  card.append(
    el("h3", { text: s.name }),
    el("p", {
      className: "summary",
      text: `${s.sampleCount} samples, ${s.speechSeconds.toFixed(1)} s of speech${consistency}, ${threshold}${s.enrolled ? "" : " (not enrolled for the running encoder)"}`,
    }),
  );
  card.append(voiceprintsRow(s));
  const actions = el("div", { className: "row" });
  actions.append(
    button("Rename", () => renameForm(s, card)),
    button(
      `Delete ${s.name}`,
      async () => {
        if (!confirm(`Delete ${s.name} and all their samples?`)) return;
        await request(`/api/speakers/${encodeURIComponent(s.id)}`, { method: "DELETE" });
        say(`Deleted ${s.name}.`);
        await refreshPeople();
      },
      "danger",
    ),
  );
  card.append(actions);

  const samples = el("ul", { className: "samples", attrs: { "aria-label": `Samples of ${s.name}` } });
  for (const sample of s.samples) samples.append(sampleRow(s, sample));
  card.append(section(s, "samples", `Samples (${s.samples.length})`, samples));

  const feedback = el(
    "div",
    { className: "feedback", attrs: { "aria-live": "polite" } },
    lastFeedback.get(s.id) ?? [],
  );
  card.append(section(s, "enrol", "Add a sample", enrolPanel(s, feedback), feedback));
  card.append(section(s, "tune", "Threshold", tunePanel(s)));
  return card;
}

/**
 * What the running encoder knows the person by: enrolled samples, the same heard in simulated rooms, and
 * what the daemon learned from turns it named; learned voiceprints can be forgotten on their own.
 * @param {SpeakerView} s
 */
function voiceprintsRow(s) {
  const { enrolled, simulated, learned } = s.voiceprints;
  const when = s.learnedAt === null ? "" : ` (last learned ${new Date(s.learnedAt).toLocaleString()})`;
  const row = el("div", { className: "row voiceprints" }, [
    el("span", {
      text: `${enrolled} enrolled · ${simulated} simulated · ${learned} learned voiceprints${when}`,
    }),
  ]);
  if (learned > 0)
    row.append(
      button(
        "Forget learned",
        async () => {
          if (!confirm(`Forget the ${learned} voiceprints learned of ${s.name}? Their samples stay.`)) return;
          /** @type {{ forgotten: number }} */
          const { forgotten } = await getJson(`/api/speakers/${encodeURIComponent(s.id)}/learned`, {
            method: "DELETE",
          });
          say(`Forgot ${forgotten} learned voiceprints of ${s.name}.`);
          await refreshPeople();
        },
        "danger",
      ),
    );
  return row;
}

/** A collapsible part of a person's card that stays open across refreshes. @param {SpeakerView} s @param {string} key @param {string} title @param {...Node} body */
function section(s, key, title, ...body) {
  const details = /** @type {HTMLDetailsElement} */ (
    el("details", {}, [el("summary", { text: title }), ...body])
  );
  const id = `${s.id}/${key}`;
  details.open = open.has(id);
  details.addEventListener("toggle", () => {
    if (details.open) open.add(id);
    else open.delete(id);
  });
  return details;
}

/** @param {SpeakerView} s @param {SampleView} sample */
function sampleRow(s, sample) {
  const when = new Date(sample.createdAt).toLocaleString();
  const row = el("li", {}, [
    el("span", { text: `${when}: ${sample.speechSeconds.toFixed(1)} s of speech (${sample.source})` }),
  ]);
  const base = `/api/speakers/${encodeURIComponent(s.id)}/samples/${encodeURIComponent(sample.id)}`;
  if (sample.hasClip)
    row.append(
      button("Listen", async () => {
        const blob = await (await request(`${base}/audio`)).blob();
        const audio = /** @type {HTMLAudioElement} */ (el("audio", { attrs: { controls: "" } }));
        audio.src = URL.createObjectURL(blob);
        row.append(audio);
        await audio.play().catch(() => {});
      }),
    );
  row.append(
    button(
      "Delete sample",
      async () => {
        await request(base, { method: "DELETE" });
        say(`Deleted a sample of ${s.name}.`);
        await refreshPeople();
      },
      "danger",
    ),
  );
  return row;
}

/** @param {SpeakerView} s @param {HTMLElement} card */
function renameForm(s, card) {
  const input = /** @type {HTMLInputElement} */ (
    el("input", { attrs: { value: s.name, maxlength: "64", "aria-label": `New name for ${s.name}` } })
  );
  const form = el("form", { className: "row" }, [
    input,
    el("button", { text: "Save name", attrs: { type: "submit" } }),
  ]);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void run(async () => {
      await sendJson("PATCH", `/api/speakers/${encodeURIComponent(s.id)}`, { name: input.value });
      say(`Renamed ${s.name} to ${input.value.trim()}.`);
      await refreshPeople();
    });
  });
  card.querySelector("h3")?.after(form);
  input.focus();
}

/** @param {SpeakerView} s @param {HTMLElement} feedback */
function enrolPanel(s, feedback) {
  const id = encodeURIComponent(s.id);
  const seconds = /** @type {HTMLSelectElement} */ (
    el(
      "select",
      { attrs: { "aria-label": "Recording length" } },
      [5, 10, 15, 20].map((n) => el("option", { text: `${n} s`, attrs: { value: String(n) } })),
    )
  );
  seconds.value = "10";
  const recorder = el("div");
  /** @param {Node[]} nodes */
  const tell = (nodes) => {
    lastFeedback.set(s.id, nodes);
    feedback.replaceChildren(...nodes);
  };
  /** @param {unknown} err */
  const refused = (err) =>
    tell([
      el("p", { className: "error", text: `Not added: ${err instanceof Error ? err.message : String(err)}` }),
    ]);
  /** @param {Response} res */
  const show = async (res) => {
    /** @type {{ samples: ClipFeedback[] }} */
    const result = await res.json();
    tell(
      result.samples.map((clip) =>
        el("div", {}, [
          el("p", {
            text: `Added: ${clip.speechSeconds.toFixed(1)} s of speech${clip.consistency ? `, similarity to the other samples ${clip.consistency.mean.toFixed(2)}` : ""}.`,
          }),
          ...clip.warnings.map((w) => el("p", { className: "warning", text: w })),
          ...clip.hints.map((h) => el("p", { className: "hint", text: h })),
        ]),
      ),
    );
    await refreshPeople();
  };
  /** @param {BodyInit} body @param {string} type @param {string} [path] */
  const upload = async (body, type, path = `/api/speakers/${id}/samples`) => {
    try {
      await show(await request(path, { method: "POST", headers: { "Content-Type": type }, body }));
    } catch (err) {
      refused(err);
    }
  };
  const file = /** @type {HTMLInputElement} */ (
    el("input", {
      attrs: {
        type: "file",
        accept: ".wav,audio/wav",
        multiple: "",
        "aria-label": `WAV files for ${s.name}`,
      },
    })
  );
  file.addEventListener("change", () => {
    void run(async () => {
      const files = [...(file.files ?? [])];
      if (files.length === 0) return;
      const form = new FormData();
      for (const f of files) form.append("file", f, f.name);
      try {
        await show(await request(`/api/speakers/${id}/samples`, { method: "POST", body: form }));
      } catch (err) {
        refused(err);
      } finally {
        file.value = "";
      }
    });
  });
  return el("div", {}, [
    el("div", { className: "row" }, [
      seconds,
      button(
        "Record in this browser",
        async () => {
          const wav = await recordInBrowser(Number(seconds.value), recorder);
          try {
            await upload(/** @type {BodyInit} */ (wav), "audio/wav");
          } finally {
            recorder.replaceChildren();
          }
        },
        "primary",
      ),
      button("Record from the daemon's microphone", async () => {
        tell([el("p", { text: `Recording ${seconds.value} s from the daemon's microphone: speak now…` })]);
        await upload(
          JSON.stringify({ seconds: Number(seconds.value) }),
          "application/json",
          `/api/speakers/${id}/record`,
        );
      }),
    ]),
    recorder,
    el("label", { text: "Or upload WAV files: " }, [file]),
  ]);
}

/** @param {SpeakerView} s */
function tunePanel(s) {
  const panel = el("div");
  const load = async () => {
    /** @type {{ threshold: number | null, defaultThreshold: number, own: { sampleId: string, score: number }[], others: { id: string, name: string, score: number }[] }} */
    const scores = await getJson(`/api/speakers/${encodeURIComponent(s.id)}/scores`);
    const current = scores.threshold ?? scores.defaultThreshold;
    const slider = /** @type {HTMLInputElement} */ (
      el("input", {
        attrs: {
          type: "range",
          min: "0",
          max: "1",
          step: "0.01",
          value: String(current),
          "aria-label": `Threshold for ${s.name}`,
        },
      })
    );
    const value = el("output", { text: current.toFixed(2) });
    slider.addEventListener("input", () => {
      value.textContent = Number(slider.value).toFixed(2);
    });
    const own =
      scores.own.length === 0 ? "needs two samples" : scores.own.map((o) => o.score.toFixed(2)).join(", ");
    const others =
      scores.others.length === 0
        ? "nobody else enrolled"
        : scores.others.map((o) => `${o.name} ${o.score.toFixed(2)}`).join(", ");
    panel.replaceChildren(
      el("p", {
        text: `Default ${scores.defaultThreshold}. A voice is named ${s.name} when its score reaches the threshold.`,
      }),
      el("p", { text: `${s.name}'s own samples score ${own}; the closest of everyone else: ${others}.` }),
      el("div", { className: "row" }, [
        slider,
        value,
        button("Save threshold", async () => {
          await sendJson("PATCH", `/api/speakers/${encodeURIComponent(s.id)}`, {
            threshold: Number(slider.value),
          });
          say(`${s.name}'s threshold is now ${Number(slider.value).toFixed(2)}.`);
          await refreshPeople();
        }),
        button("Use the default", async () => {
          await sendJson("PATCH", `/api/speakers/${encodeURIComponent(s.id)}`, { threshold: null });
          say(`${s.name} uses the default threshold again.`);
          await refreshPeople();
        }),
      ]),
    );
  };
  panel.append(button("Show scores and threshold", load));
  return panel;
}

function wireAddPerson() {
  const form = $("add-person");
  const input = /** @type {HTMLInputElement} */ ($("new-name"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void run(async () => {
      /** @type {{ speaker: SpeakerView }} */
      const { speaker } = await sendJson("POST", "/api/speakers", { name: input.value });
      input.value = "";
      open.add(`${speaker.id}/enrol`);
      say(`Added ${speaker.name}: now add a few samples of their voice.`);
      await refreshPeople();
    });
  });
}

// ---- live view ------------------------------------------------------------------------------------

/** How many rooms (inputs) the daemon listens in: with several, the live view says which room. */
let rooms = 1;

/**
 * @typedef {{ type: string, turnId: number, room?: string, commandId?: number, speakerId: string | null, speaker: string | null, reason: string | null, score: number | null, threshold: number, scores: Record<string, number>, startedAt: string, durationS?: number, nearestSpeaker: string | null, voice?: string | null }} Detection
 * @typedef {import("./timeline.js").Turn} Turn
 */

const RECENT_ROWS = 20;
const timeline = new Timeline($("timeline"), () => names);

/**
 * Rows by turn: a room's turn by room, start and id (ids start again when the daemon does), a voice
 * command's by "c<command>:<turn>" (they count from 1 each).
 * @type {Map<string, HTMLTableRowElement>}
 */
const turnRows = new Map();

/** @param {Detection} d */
function showDetection(d) {
  const turn = turnOfDetection(d);
  if (turn) timeline.add(turn);
  else if (d.reason === "ignored")
    timeline.drop({ room: d.room ?? "", startedAt: d.startedAt, turnId: d.turnId });
  const who =
    d.speaker ??
    (d.reason === "pending"
      ? "listening…"
      : d.reason === "too_short"
        ? "too short to tell"
        : d.reason === "ignored"
          ? `an ignored voice (${d.voice})`
          : d.voice
            ? `someone not enrolled (${d.voice})`
            : "someone not enrolled");
  if (d.type === "stopped" && d.voice) void refreshVoices().catch(() => {});
  const now = $("now");
  const command = d.commandId === undefined ? (rooms > 1 ? ` in ${d.room}` : "") : " (voice command)";
  if (d.type === "stopped") now.textContent = "Nobody";
  else
    now.textContent = d.speaker
      ? `${d.speaker} is talking${command}`
      : `${who[0].toUpperCase()}${who.slice(1)}${command}`;
  const key =
    d.commandId === undefined
      ? turnKey({ room: d.room ?? "", startedAt: d.startedAt, turnId: d.turnId })
      : `c${d.commandId}:${d.turnId}`;
  let row = turnRows.get(key);
  if (!row) {
    row = /** @type {HTMLTableRowElement} */ (
      el("tr", { attrs: { "data-turn": key, "data-started": d.startedAt } })
    );
    turnRows.set(key, row);
    const body = /** @type {HTMLTableElement} */ ($("turns")).tBodies[0];
    // Newest first, also when the recent turns arrive after a live one.
    const later = [...body.rows].find((r) => (r.dataset.started ?? "") < d.startedAt);
    body.insertBefore(row, later ?? null);
    while (body.rows.length > RECENT_ROWS) {
      const last = body.rows[body.rows.length - 1];
      turnRows.delete(last.dataset.turn ?? "");
      last.remove();
    }
  } else if (row.dataset.ended === "true" && d.type !== "stopped") return;
  row.dataset.ended = String(d.type === "stopped");
  const scores = el(
    "div",
    { className: "scores" },
    Object.entries(d.scores)
      .sort((a, b) => b[1] - a[1])
      .map(([id, score]) => el("span", { text: `${names.get(id) ?? id} ${score.toFixed(2)}` })),
  );
  row.replaceChildren(
    el("td", { text: new Date(d.startedAt).toLocaleTimeString() }),
    el("td", { text: `${d.type === "stopped" ? `${who} (ended)` : who}${command}` }),
    el("td", { text: d.score === null ? "–" : d.score.toFixed(2) }),
    el("td", { text: d.threshold.toFixed(2) }),
    el("td", {}, [scores]),
  );
}

/**
 * The recent turns, as the daemon kept them (its timeline survives reloads and restarts): drawn on the
 * timeline over the chosen range, and the newest in the live view's table. Asked again whenever the
 * event stream (re)connects, so nothing said while the page was away is missing.
 */
async function loadRecentTurns() {
  const minutes = Number(/** @type {HTMLSelectElement} */ ($("timeline-range")).value);
  /** @type {{ turns: Turn[] }} */
  const { turns } = await getJson(`/api/timeline?minutes=${minutes}`);
  timeline.merge(turns, minutes);
  for (const t of turns.slice(-RECENT_ROWS)) {
    // A row the live events wrote knows as much or more (everyone's scores): only its end is news.
    const row = turnRows.get(turnKey(t));
    if (row && (row.dataset.ended === "true" || t.open)) continue;
    showDetection({ ...t, type: t.open ? "updated" : "stopped", scores: {}, nearestSpeaker: null });
  }
}

function wireTimeline() {
  $("timeline-range").addEventListener("change", () => void run(loadRecentTurns));
  // The right edge is now: the bars move left as time goes on (not under the pointer: redrawing would
  // take away the bar's hover text being read).
  setInterval(() => {
    if (!$("timeline").matches(":hover")) timeline.render();
  }, 5000);
  let width = 0;
  new ResizeObserver(([entry]) => {
    if (Math.round(entry.contentRect.width) === width) return;
    width = Math.round(entry.contentRect.width);
    timeline.render();
  }).observe($("timeline"));
}

/** /api/events read with fetch (an EventSource cannot send the token), reconnecting when it drops. */
async function followEvents() {
  for (;;) {
    try {
      const res = await request("/api/events", { headers: { Accept: "text/event-stream" } });
      if (!res.body) throw new Error("no event stream");
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end = buffer.indexOf("\n\n");
        while (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const lines = block.split("\n");
          const event = lines
            .find((l) => l.startsWith("event:"))
            ?.slice(6)
            .trim();
          const data = lines
            .filter((l) => l.startsWith("data:"))
            .map((l) => l.slice(5).trim())
            .join("\n");
          if (event === "detection") showDetection(JSON.parse(data));
          else if (event === "ready") void run(loadRecentTurns);
          end = buffer.indexOf("\n\n");
        }
      }
    } catch (err) {
      console.warn("event stream:", err);
    }
    await sleep(3000);
  }
}

// ---- voice commands (the Wyoming proxy) -------------------------------------------------------------

/**
 * @typedef {{ id: number, at: string, speakerId: string | null, speaker: string | null, reason: string | null, score: number | null, durationS: number, mode: string, forwarded: boolean, forwardedS: number, transcript: string | null }} VoiceCommand
 */

/** Recent commands from Home Assistant's voice pipeline; the section stays hidden while the proxy is off. */
async function refreshCommands() {
  const section = $("commands-section");
  /** @type {{ showTranscripts: boolean, commands: VoiceCommand[] }} */
  let recent;
  try {
    recent = await getJson("/api/commands");
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      section.hidden = true;
      return;
    }
    throw err;
  }
  section.hidden = false;
  $("commands-transcript-h").hidden = !recent.showTranscripts;
  const body = /** @type {HTMLTableElement} */ ($("commands")).tBodies[0];
  body.replaceChildren(
    ...recent.commands.map((c) => {
      const who =
        c.speaker ??
        (c.reason === "too_short"
          ? "too short to tell"
          : c.reason === "uncertain"
            ? "not sure"
            : "someone not enrolled");
      const forwarded = c.forwarded
        ? c.mode === "extract"
          ? `yes, ${c.forwardedS.toFixed(1)} of ${c.durationS.toFixed(1)} s`
          : "yes"
        : "no";
      const cells = [
        el("td", { text: new Date(c.at).toLocaleTimeString() }),
        el("td", { text: who }),
        el("td", { text: c.score === null ? "–" : c.score.toFixed(2) }),
        el("td", { text: c.mode }),
        el("td", { text: forwarded }),
      ];
      if (recent.showTranscripts) cells.push(el("td", { text: c.transcript ?? "" }));
      return el("tr", { attrs: { "data-command": String(c.id) } }, cells);
    }),
  );
}

function wireTestMe() {
  const progress = $("test-progress");
  $("test-me").addEventListener("click", () => {
    void run(async () => {
      const wav = await recordInBrowser(5, progress);
      progress.replaceChildren();
      /** @type {{ speaker: string | null, score: number | null, threshold: number, reason: string | null, nearestSpeaker: string | null }} */
      const r = await getJson("/api/identify", {
        method: "POST",
        headers: { "Content-Type": "audio/wav" },
        body: /** @type {BodyInit} */ (wav),
      });
      const score =
        r.score === null ? "" : ` (score ${r.score.toFixed(2)}, threshold ${r.threshold.toFixed(2)})`;
      $("test-result").textContent = r.speaker
        ? `That was ${r.speaker}${score}.`
        : `Not named: ${r.reason === "uncertain" ? "too close between two people" : "nobody enrolled sounds like that"}${r.nearestSpeaker ? `; closest ${r.nearestSpeaker}` : ""}${score}.`;
    });
  });
}

// ---- voices nobody enrolled ----------------------------------------------------------------------

const refreshVoices = wireVoices({
  request,
  getJson,
  sendJson,
  el,
  button,
  say,
  people: () => [...names.values()],
  onPeopleChanged: refreshPeople,
});

// ---- start ----------------------------------------------------------------------------------------

wireAddPerson();
wireListening();
wireTestMe();
wireTimeline();
void run(async () => {
  await refreshStatus();
  await refreshListening();
  await refreshPeople();
  await refreshCommands();
  await refreshVoices();
});
void followEvents();
setInterval(() => {
  void refreshStatus().catch(() => {});
  void refreshCommands().catch(() => {});
}, 5000);
