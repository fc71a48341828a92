// The console's keyboard shortcuts: this table is the one definition; the key handler and
// the help overlay both read it. Alt combinations do not collide with typing in the
// wrap-up notes or a chat.

/** @type {{keys: string, key: string, alt: boolean, action: string, does: string}[]} */
export const SHORTCUTS = [
  { keys: "Alt+A", key: "a", alt: true, action: "accept", does: "Accept the ringing offer (or consult)" },
  { keys: "Alt+R", key: "r", alt: true, action: "reject", does: "Reject the ringing offer (or consult)" },
  { keys: "Alt+H", key: "h", alt: true, action: "hold", does: "Hold or resume the call" },
  { keys: "Alt+M", key: "m", alt: true, action: "mute", does: "Mute or unmute your microphone" },
  { keys: "Alt+K", key: "k", alt: true, action: "keypad", does: "Go to the call's keypad (tones)" },
  { keys: "Alt+E", key: "e", alt: true, action: "end", does: "End the current contact" },
  { keys: "Alt+D", key: "d", alt: true, action: "done", does: "Done: submit the wrap-up" },
  { keys: "Alt+N", key: "n", alt: true, action: "next_chat", does: "Go to the next chat" },
  { keys: "Alt+C", key: "c", alt: true, action: "consult", does: "Consult: pick an agent to talk to first" },
  { keys: "Alt+T", key: "t", alt: true, action: "consult_complete", does: "Complete the consult transfer" },
  { keys: "Alt+F", key: "f", alt: true, action: "conference", does: "Conference the caller and both agents" },
  { keys: "Alt+X", key: "x", alt: true, action: "consult_cancel", does: "Cancel the consult (resume the caller)" },
  { keys: "Alt+L", key: "l", alt: true, action: "leave_conference", does: "Leave the conference" },
  { keys: "Alt+/", key: "/", alt: true, action: "help", does: "Show or hide this list" },
  { keys: "Escape", key: "Escape", alt: false, action: "close", does: "Close this list" },
];

/**
 * The action a key event asks for, or null.
 * @param {KeyboardEvent} event
 */
export function actionFor(event) {
  for (const s of SHORTCUTS) {
    if (s.alt !== event.altKey || event.ctrlKey || event.metaKey) continue;
    // event.code, so that Alt+letter works whatever the keyboard layout makes of it
    const code = s.key.length === 1 && /[a-z]/.test(s.key) ? `Key${s.key.toUpperCase()}` : null;
    if (event.key.toLowerCase() === s.key.toLowerCase() || (code && event.code === code) ||
        (s.key === "/" && event.code === "Slash")) {
      return s.action;
    }
  }
  return null;
}
