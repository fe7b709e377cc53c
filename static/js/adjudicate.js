// Adjudication page: the reading room's viewer (viewer-toolbar.js), rubric form (rubric-form.js) and
// keyboard flow for the final score. Digits score the focused item (or the first one not scored) and
// move on, up and down move between items, left and right change the level, Enter records the score
// and the server sends the next discordant case. Without JavaScript the page is a plain form; the
// server validates either way.
//
// Nothing looks chosen before a choice: on arrival no level has the focus (the first item not
// scored is the one digits go to, outlined as a whole), and a definition in italics only previews
// the level under the pointer or the keyboard focus the adjudicator put there.
import { RubricForm, chooseLevel, previewDefinitions } from "./rubric-form.js";
import { startViewer } from "./viewer-toolbar.js";

const viewerRoot = document.getElementById("viewer");
const panel = document.getElementById("panel");
const form = document.getElementById("adjudication-form");
const announcer = document.getElementById("announcer");
const help = document.getElementById("shortcuts");
const readOnly = panel.hasAttribute("data-read-only");
let submitting = false;

function announce(text) {
  announcer.textContent = "";
  setTimeout(() => { announcer.textContent = text; }, 50);
}

// No viewer for a case from imported ratings only (no image, no toolbar).
const viewer = viewerRoot.querySelector(".viewer-toolbar") ? startViewer(viewerRoot, { announce, help }) : null;

// --- the final score ---------------------------------------------------------------------------

const rubric = new RubricForm(form, {
  spec: JSON.parse(document.getElementById("rubric-totals").textContent),
  readOnly,
  complete: "All items scored · Enter records the final score",
  markNext: true,
  announce,
});

function focusItem(item) {
  // The item itself, not one of its levels: a focused level would look chosen.
  if (item) item.focus();
  else document.getElementById("submit")?.focus();
}

function stepLevel(item, step) {
  const radios = [...item.querySelectorAll("input:not(:disabled)")];
  if (!radios.length) return;
  const at = radios.findIndex((radio) => radio.checked);
  const to = at === -1 ? (step > 0 ? 0 : radios.length - 1) : Math.min(radios.length - 1, Math.max(0, at + step));
  chooseLevel(radios[to]);
  announce(`${item.dataset.label}: ${radios[to].closest(".level").dataset.definition}`);
}

// --- unsaved changes: asked before leaving ----------------------------------------------------

const snapshot = () => JSON.stringify([...new FormData(form)].filter(([name]) => name !== "csrfmiddlewaretoken"));
let saved = snapshot();
const dirty = () => !readOnly && !submitting && snapshot() !== saved;

window.addEventListener("beforeunload", (event) => {
  if (dirty()) event.preventDefault();
});

function leave(link) {
  if (dirty() && !window.confirm("Leave this case without recording the final score?")) return;
  saved = snapshot(); // asked once: the browser's own question would come second
  window.location.assign(link.href);
}

// --- events -----------------------------------------------------------------------------------

form.addEventListener("change", (event) => rubric.changed(event));
previewDefinitions(form);

form.addEventListener("submit", (event) => {
  if (submitting) return event.preventDefault(); // a second Enter must not store a second revision
  const missing = rubric.refuseMissing();
  if (missing) {
    event.preventDefault();
    focusItem(missing);
    return;
  }
  submitting = true;
  panel.setAttribute("aria-busy", "true");
});

panel.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-nav]");
  if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  leave(link);
});

const SHORTCUTS = {
  ...viewer?.keys,
  n: () => {
    const link = panel.querySelector('a[data-nav="next"]');
    if (link) leave(link);
  },
  "?": () => help.showModal(),
};
const TYPING = "textarea, select, input:not([type=radio]):not([type=checkbox]):not([type=button]):not([type=submit])";

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing || help.open) return;
  const { key, target } = event;
  if (target.matches?.(TYPING)) {
    if (key === "Escape") target.blur();
    return; // the note: typing, and Enter submits the form natively
  }
  const item = target.closest?.("#adjudication-form .item");
  if (/^[0-9]$/.test(key)) {
    const into = readOnly ? null : item ?? rubric.missing()[0] ?? (target.closest?.("#submit") ? null : rubric.open()[0]);
    if (into) {
      event.preventDefault();
      if (rubric.score(into, Number(key))) focusItem(rubric.neighbour(into, 1));
    }
    return;
  }
  if (key === "ArrowDown" || key === "ArrowUp") {
    // Up and down move between items (from nowhere: to the first item not scored).
    if (!item && target !== document.body) return;
    event.preventDefault();
    const to = item ? rubric.neighbour(item, key === "ArrowDown" ? 1 : -1) : rubric.missing()[0] ?? rubric.open()[0];
    if (to || key === "ArrowDown") focusItem(to);
    return;
  }
  if ((key === "ArrowLeft" || key === "ArrowRight") && item && !readOnly) {
    if (target.matches("input[type=radio]")) return; // the radio group's own keys
    event.preventDefault();
    stepLevel(item, key === "ArrowRight" ? 1 : -1);
    return;
  }
  if (key === "Enter") {
    if (target.closest?.("a, button, summary, dialog")) return; // their own Enter
    event.preventDefault();
    if (!readOnly) form.requestSubmit();
    return;
  }
  if (key === "Escape" && item) {
    item.blur();
    return;
  }
  const action = SHORTCUTS[key] ?? SHORTCUTS[key.toLowerCase()];
  if (action) {
    event.preventDefault();
    action();
  }
});

// --- start ------------------------------------------------------------------------------------

rubric.mount();
saved = snapshot();

// Confirmations ("Final score recorded") give the image its room back after a moment; errors stay.
setTimeout(() => {
  const list = document.querySelector("body > .messages");
  if (!list) return;
  for (const message of list.querySelectorAll("li:not(.msg-error)")) message.remove();
  if (!list.children.length) list.remove();
}, 5000);
