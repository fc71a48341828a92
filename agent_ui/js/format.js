// Display formats shared by the pages. Missing figures (null: nothing counted yet) show
// as an em dash rather than 0, which would be a claim.

export const NONE = "\u2014";

/** Seconds as m:ss, or h:mm:ss from an hour. @param {number|null|undefined} seconds */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return NONE;
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** A ratio 0..1 as a percentage with one decimal. @param {number|null|undefined} ratio */
export function percent(ratio) {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return NONE;
  return `${(ratio * 100).toFixed(1)} %`;
}

/** Seconds with one decimal, e.g. "4.2 s". @param {number|null|undefined} seconds */
export function seconds(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return NONE;
  return `${seconds.toFixed(1)} s`;
}

/** "on_contact" -> "on contact". @param {string|null|undefined} code */
export function label(code) {
  return code ? String(code).replaceAll("_", " ") : NONE;
}

/** An ISO timestamp as local date and time. @param {string|null|undefined} iso */
export function when(iso) {
  if (!iso) return NONE;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}
