// Post-contact survey results on the supervisor page: CSAT (1-5) and first-contact
// resolution per queue, from the `surveys` part of GET /api/queues (stored with each
// interaction by the IVR survey). Surveys change slowly, so a poll every 15 s is enough.

import { byId, h, setChildren } from "./dom.js";
import { NONE, percent } from "./format.js";

const PERIOD_MS = 15_000;

/** @typedef {{surveys: number, csat_responses: number, csat_avg: number|null,
 *   fcr_responses: number, fcr_rate: number|null}} Rates */

export class SurveyPoller {
  /** @param {import("./session.js").Session} session @param {(id: string) => string} queueName */
  constructor(session, queueName) {
    this.session = session;
    this.queueName = queueName;
    /** @type {number|undefined} */
    this.timer = undefined;
  }

  start() {
    this.stop();
    const poll = async () => {
      try {
        const snapshot = await this.session.get("/api/queues");
        render(snapshot.surveys, this.queueName);
        setChildren(byId("surveys-error"));
      } catch (exc) {
        setChildren(byId("surveys-error"), `Survey figures unavailable: ${String(exc)}`);
      }
      this.timer = window.setTimeout(poll, PERIOD_MS);
    };
    poll();
  }

  stop() {
    clearTimeout(this.timer);
  }
}

/** @param {Rates & {queues: Record<string, Rates>}} surveys @param {(id: string) => string} queueName */
function render(surveys, queueName) {
  const el = byId("surveys");
  if (!surveys || !surveys.surveys) {
    setChildren(el, h("p", { class: "muted", text: "No survey answers yet." }));
    return;
  }
  const row = (/** @type {string} */ name, /** @type {Rates} */ r, /** @type {string} */ key) =>
    h("tr", { dataset: { queue: key } },
      h("th", { scope: "row", text: name }),
      h("td", { class: "num csat", text: r.csat_avg === null ? NONE : r.csat_avg.toFixed(2) }),
      h("td", { class: "num", text: String(r.csat_responses) }),
      h("td", { class: "num fcr", text: r.fcr_rate === null ? NONE : percent(r.fcr_rate) }),
      h("td", { class: "num", text: String(r.fcr_responses) }));
  const rows = Object.entries(surveys.queues || {}).map(
    ([id, r]) => row(id ? queueName(id) : NONE, r, id));
  setChildren(el, h("table", { class: "grid" },
    h("caption", { class: "muted",
      text: "CSAT = mean score (1-5) of the answers; FCR = answered \u201cresolved: yes\u201d / answered the question" }),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col", text: "Queue" }), h("th", { scope: "col", text: "CSAT" }),
      h("th", { scope: "col", text: "answers" }), h("th", { scope: "col", text: "FCR" }),
      h("th", { scope: "col", text: "answers" }))),
    h("tbody", {}, rows, row("All queues", surveys, "all"))));
}
