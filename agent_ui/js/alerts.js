// Getting the agent's attention for an offer: a tone (Web Audio, generated here; browsers
// allow sound only after a user gesture, so the audio context is made on the first click
// or key of the session), a count in the tab title, and a system notification when the
// tab is hidden (permission is asked on that first gesture too).

/** @type {AudioContext | null} */
let audio = null;
const baseTitle = document.title;

function unlock() {
  if (!audio) {
    try {
      audio = new AudioContext();
    } catch {
      audio = null;
    }
  } else if (audio.state === "suspended") {
    audio.resume().catch(() => {});
  }
  if ("Notification" in window && Notification.permission === "default") {
    Notification.requestPermission().catch(() => {});
  }
}

window.addEventListener("pointerdown", unlock, { capture: true });
window.addEventListener("keydown", unlock, { capture: true });

/** Whether a sound can play (the session had its first gesture). */
export function soundReady() {
  return audio !== null && audio.state === "running";
}

/** A short two-note ring. */
export function ring() {
  if (!audio || audio.state !== "running") return false;
  const start = audio.currentTime;
  for (const [offset, freq] of [[0, 880], [0.18, 660], [0.5, 880], [0.68, 660]]) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, start + offset);
    gain.gain.exponentialRampToValueAtTime(0.2, start + offset + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.16);
    osc.connect(gain).connect(audio.destination);
    osc.start(start + offset);
    osc.stop(start + offset + 0.17);
  }
  return true;
}

/** "(2) Agent console": offers and unread chat messages waiting for the agent. @param {number} count */
export function badge(count) {
  document.title = count > 0 ? `(${count}) ${baseTitle}` : baseTitle;
}

/** A system notification when the page is hidden. @param {string} title @param {string} body @param {string} tag */
export function notify(title, body, tag) {
  if (!document.hidden || !("Notification" in window) || Notification.permission !== "granted") {
    return null;
  }
  const note = new Notification(title, { body, tag });
  note.onclick = () => {
    window.focus();
    note.close();
  };
  return note;
}
