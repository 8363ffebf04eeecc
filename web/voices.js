// @ts-check
/**
 * "Voices heard": the voices the daemon kept that nobody enrolled (GET /api/voices), to listen to, name
 * ("This is…"), ignore (the TV) or forget. Everything shown is text (labels are user input).
 */

/**
 * @typedef {{ id: string, ignored: boolean, label: string | null, turns: number, speechSeconds: number, firstHeard: string | null, lastHeard: string | null, rooms: string[], consistency: number | null, clips: number, nearest: { speakerId: string, speaker: string, score: number } | null }} KeptVoice
 * @typedef {{
 *   request: (path: string, init?: RequestInit) => Promise<Response>,
 *   getJson: (path: string, init?: RequestInit) => Promise<any>,
 *   sendJson: (method: string, path: string, body: unknown) => Promise<any>,
 *   el: (tag: string, options?: { text?: string, className?: string, attrs?: Record<string, string> }, children?: (Node | string)[]) => HTMLElement,
 *   button: (text: string, onClick: () => void | Promise<void>, className?: string) => HTMLButtonElement,
 *   say: (text: string, isError?: boolean) => void,
 *   people: () => string[],
 *   onPeopleChanged: () => Promise<void>,
 * }} VoicesPage
 */

/** @param {string | null} iso */
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");

/**
 * Wires the section; returns its refresh (call it when an unknown turn ends).
 * @param {VoicesPage} page
 */
export function wireVoices(page) {
  const { el, button, say } = page;
  const list = /** @type {HTMLElement} */ (document.getElementById("voices"));
  const ignoredList = /** @type {HTMLElement} */ (document.getElementById("ignored-voices"));
  const note = /** @type {HTMLElement} */ (document.getElementById("voices-clips-note"));
  /** Blob URLs of the clips shown, revoked when the list is redrawn. @type {string[]} */
  let urls = [];

  /** @param {KeptVoice} v */
  function card(v) {
    const speech = `${v.turns} turn${v.turns === 1 ? "" : "s"}, ${v.speechSeconds.toFixed(1)} s of speech`;
    const nearest = v.nearest
      ? `; sounds most like ${v.nearest.speaker} (${v.nearest.score.toFixed(2)})`
      : "";
    const facts = el("p", {
      text: `${speech}; first heard ${when(v.firstHeard)}, last ${when(v.lastHeard)} in ${v.rooms.join(", ")}${nearest}`,
    });
    const title = el("h3", { text: v.label ? `${v.id} (${v.label})` : v.id });
    const item = el("li", { className: "voice", attrs: { "data-voice": v.id } }, [title, facts]);
    if (v.clips > 0) {
      const play = el("p", { className: "row" });
      for (let n = 0; n < v.clips; n++) {
        play.append(
          button(`Play clip ${n + 1}`, async () => {
            const res = await page.request(`/api/voices/${encodeURIComponent(v.id)}/clips/${n}/audio`);
            const url = URL.createObjectURL(await res.blob());
            urls.push(url);
            const audio = /** @type {HTMLAudioElement} */ (
              el("audio", { attrs: { controls: "", src: url } })
            );
            play.append(audio);
            await audio.play().catch(() => {});
          }),
        );
      }
      item.append(play);
    }
    if (v.ignored) {
      item.append(
        el("p", { className: "row" }, [
          button("Report it again", async () => {
            await page.sendJson("POST", `/api/voices/${encodeURIComponent(v.id)}/unignore`, {});
            say(`${v.id} is reported again.`);
            await refresh();
          }),
          forget(v),
        ]),
      );
      return item;
    }
    const nameId = `name-${v.id}`;
    const name = /** @type {HTMLInputElement} */ (
      el("input", {
        attrs: { id: nameId, list: "people-names", maxlength: "64", autocomplete: "off", required: "" },
      })
    );
    const assign = /** @type {HTMLFormElement} */ (
      el("form", { className: "row" }, [
        el("label", { text: "This is…", attrs: { for: nameId } }),
        name,
        el("button", { text: "Name", attrs: { type: "submit" } }),
      ])
    );
    assign.addEventListener("submit", (e) => {
      e.preventDefault();
      void (async () => {
        try {
          /** @type {{ speaker: { name: string }, created: boolean, warnings: string[] }} */
          const r = await page.sendJson("POST", `/api/voices/${encodeURIComponent(v.id)}/assign`, {
            name: name.value,
          });
          say(
            `${v.id} is ${r.speaker.name}${r.created ? " (new person)" : ""}: named from now on.${r.warnings.length ? ` ${r.warnings.join(" ")}` : ""}`,
          );
          await refresh();
          await page.onPeopleChanged();
        } catch (err) {
          say(err instanceof Error ? err.message : String(err), true);
        }
      })();
    });
    const labelId = `label-${v.id}`;
    const label = /** @type {HTMLInputElement} */ (
      el("input", { attrs: { id: labelId, maxlength: "64", autocomplete: "off", placeholder: "TV, radio…" } })
    );
    item.append(
      assign,
      el("p", { className: "row" }, [
        el("label", { text: "Label", attrs: { for: labelId } }),
        label,
        button("Ignore (TV, radio…)", async () => {
          const body = label.value.trim() === "" ? {} : { label: label.value };
          await page.sendJson("POST", `/api/voices/${encodeURIComponent(v.id)}/ignore`, body);
          say(`${v.id} ignored: its turns make no events.`);
          await refresh();
        }),
        forget(v),
      ]),
    );
    return item;
  }

  /** @param {KeptVoice} v */
  function forget(v) {
    return button(
      "Forget",
      async () => {
        await page.request(`/api/voices/${encodeURIComponent(v.id)}`, { method: "DELETE" });
        say(`${v.id} forgotten.`);
        await refresh();
      },
      "danger",
    );
  }

  async function refresh() {
    /** @type {{ voices: KeptVoice[], keepClips: boolean }} */
    const heard = await page.getJson("/api/voices");
    /** @type {{ voices: KeptVoice[] }} */
    const ignored = await page.getJson("/api/voices?ignored=1");
    for (const url of urls) URL.revokeObjectURL(url);
    urls = [];
    const datalist =
      document.getElementById("people-names") ??
      document.body.appendChild(el("datalist", { attrs: { id: "people-names" } }));
    datalist.replaceChildren(...page.people().map((n) => el("option", { attrs: { value: n } })));
    list.replaceChildren(
      ...(heard.voices.length ? heard.voices.map(card) : [el("li", { text: "No voices kept yet." })]),
    );
    ignoredList.replaceChildren(...ignored.voices.map(card));
    note.textContent = heard.keepClips
      ? "Clips of these voices are kept (unknownVoices.keepClips): they record people who never agreed to it."
      : "Only voiceprints are kept, no audio: clips are off (unknownVoices.keepClips), because they would record people who never agreed to it. A voice can be named without them.";
  }

  return refresh;
}
