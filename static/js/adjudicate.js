// Adjudication page: the reading room's viewer (viewer.js) and keyboard flow for the final score.
// Digits score the focused item (or the first one not scored) and move on, up and down move between
// items, left and right change the level, Enter records the score and the server sends the next
// discordant case. Without JavaScript the page is a plain form; the server validates either way.
//
// Nothing looks chosen before a choice: on arrival no level has the focus (the first item not
// scored is the one digits go to, outlined as a whole), and a definition in italics only previews
// the level under the pointer or the keyboard focus the adjudicator put there.
import { PRESETS, Viewer } from "./viewer.js";

const viewerRoot = document.getElementById("viewer");
const panel = document.getElementById("panel");
const form = document.getElementById("adjudication-form");
const announcer = document.getElementById("announcer");
const help = document.getElementById("shortcuts");
const readOnly = panel.hasAttribute("data-read-only");
const items = [...form.querySelectorAll(".item")];
const spec = JSON.parse(document.getElementById("rubric-totals").textContent);
let submitting = false;

function announce(text) {
  announcer.textContent = "";
  setTimeout(() => { announcer.textContent = text; }, 50);
}

// --- the viewer --------------------------------------------------------------------------------

const toolbar = viewerRoot.querySelector(".viewer-toolbar");
const viewer = toolbar ? startViewer() : null;

function startViewer() {
  const plain = document.getElementById("xray");
  const v = new Viewer(viewerRoot);
  plain.hidden = true;
  for (const selector of ["canvas", ".viewer-hint", ".readout"]) viewerRoot.querySelector(selector).hidden = false;
  toolbar.hidden = false;
  v.show(plain.decode().then(() => plain), "Chest X-ray under adjudication");
  return v;
}

const viewerActions = viewer && {
  "zoom-in": () => viewer.zoomBy(1.25),
  "zoom-out": () => viewer.zoomBy(0.8),
  reset: () => { viewer.reset(); announce("View reset"); },
  invert: () => announce(viewer.toggleInvert() ? "Inverted" : "Not inverted"),
  help: () => help.showModal(),
};

function preset(name) {
  viewer.preset(name);
  announce(PRESETS[name].label);
}

if (viewer) {
  // A click on a tool leaves the keyboard focus on the scores, so that Enter still saves.
  toolbar.addEventListener("mousedown", (event) => {
    if (event.target.closest("button")) event.preventDefault();
  });
  toolbar.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.preset) return preset(button.dataset.preset);
    if (button.dataset.action === "wl-drag") {
      viewer.wlDrag = !viewer.wlDrag;
      button.setAttribute("aria-pressed", String(viewer.wlDrag));
      return;
    }
    viewerActions[button.dataset.action]?.();
  });
  viewerRoot.addEventListener("viewerchange", (event) => {
    for (const button of toolbar.querySelectorAll("[data-preset]")) {
      button.setAttribute("aria-pressed", String(button.dataset.preset === event.detail.preset));
    }
    toolbar.querySelector('[data-action="invert"]').setAttribute("aria-pressed", String(event.detail.invert));
  });
}

// --- the final score ---------------------------------------------------------------------------

const isOff = (item) => item.classList.contains("disabled");
const open = () => items.filter((item) => !isOff(item));

function valueOf(key) {
  const checked = form.querySelector(`input[name="${key}"]:checked`);
  return checked ? Number(checked.value) : null;
}

function missingItems() {
  return open().filter((item) => valueOf(item.dataset.item) === null);
}

function updateDependents() {
  // A dependent item (RALE density) is scored only when its parent (extent) is above 0.
  for (const item of form.querySelectorAll(".item[data-requires]")) {
    const off = !valueOf(item.dataset.requires);
    item.classList.toggle("disabled", off);
    item.setAttribute("aria-disabled", String(off));
    item.setAttribute("aria-required", String(!off));
    for (const input of item.querySelectorAll("input")) {
      input.disabled = off || readOnly;
      input.required = !off;
      if (off) input.checked = false;
    }
    if (off) showDefinition(item);
  }
}

function updateTotals() {
  const missing = missingItems();
  const unscored = new Set(missing.map((item) => item.dataset.item));
  for (const total of spec) {
    const out = form.querySelector(`output[data-total="${total.key}"]`);
    const value = total.terms.reduce((sum, term) => sum + term.reduce((p, key) => p * (valueOf(key) ?? 0), 1), 0);
    const keys = total.terms.flat();
    // Nothing scored yet: a dash, not a 0 that would read as a score.
    if (keys.every((key) => valueOf(key) === null)) out.textContent = "–";
    else out.textContent = keys.some((key) => unscored.has(key)) ? `${value}…` : String(value);
  }
  for (const item of items) if (!unscored.has(item.dataset.item)) item.classList.remove("missing");
  const remaining = document.getElementById("remaining");
  if (!readOnly) {
    remaining.textContent = missing.length
      ? `${missing.length} item${missing.length === 1 ? "" : "s"} left to score`
      : "All items scored · Enter records the final score";
    remaining.classList.toggle("complete", !missing.length);
    markNextItem();
  }
  if (!missing.length) hideError();
}

function markNextItem() {
  // Where a digit goes when no item has the focus: outlined as a whole, no level singled out.
  const next = missingItems()[0];
  for (const item of items) item.classList.toggle("next-up", item === next);
}

function showDefinition(item, level = null) {
  // The hovered or focused level's definition (a preview, in italics), else the chosen one's.
  const shown = level ?? item.querySelector("input:checked")?.closest(".level");
  const line = item.querySelector(".item-def");
  line.textContent = shown ? shown.dataset.definition : "";
  line.classList.toggle("preview", Boolean(level) && !level.querySelector("input").checked);
}

function reserveDefinitionSpace(item) {
  // Room for the longest definition, so that previews do not move the items below.
  const line = item.querySelector(".item-def");
  line.style.minHeight = "";
  let tallest = 0;
  for (const level of item.querySelectorAll(".level")) {
    line.textContent = level.dataset.definition;
    tallest = Math.max(tallest, line.offsetHeight);
  }
  line.style.minHeight = `${tallest}px`;
  showDefinition(item);
}

function focusItem(item) {
  // The item itself, not one of its levels: a focused level would look chosen.
  if (item) item.focus();
  else document.getElementById("submit")?.focus();
}

function neighbour(item, step) {
  const list = open();
  return list[list.indexOf(item) + step] ?? null;
}

function choose(item, radio) {
  radio.checked = true;
  radio.dispatchEvent(new Event("change", { bubbles: true }));
}

function scoreWithDigit(item, digit) {
  const radio = item.querySelector(`input[value="${digit}"]`);
  if (!radio || radio.disabled) {
    const values = [...item.querySelectorAll("input")].map((input) => input.value);
    announce(`${item.dataset.label}: ${digit} is not a level; choose ${values[0]} to ${values.at(-1)}.`);
    item.classList.remove("rejected");
    void item.offsetWidth; // restart the CSS animation
    item.classList.add("rejected");
    return;
  }
  choose(item, radio);
  focusItem(neighbour(item, 1));
}

function stepLevel(item, step) {
  const radios = [...item.querySelectorAll("input:not(:disabled)")];
  if (!radios.length) return;
  const at = radios.findIndex((radio) => radio.checked);
  const to = at === -1 ? (step > 0 ? 0 : radios.length - 1) : Math.min(radios.length - 1, Math.max(0, at + step));
  choose(item, radios[to]);
  announce(`${item.dataset.label}: ${radios[to].closest(".level").dataset.definition}`);
}

function showError(text) {
  const line = document.getElementById("form-error");
  line.textContent = text;
  line.hidden = false;
}

function hideError() {
  const line = document.getElementById("form-error");
  if (!line.hidden) line.hidden = true;
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

form.addEventListener("change", (event) => {
  updateDependents();
  updateTotals();
  const item = event.target.closest(".item");
  if (item) showDefinition(item, event.target.matches(":focus") ? event.target.closest(".level") : null);
});

form.addEventListener("pointerover", (event) => {
  const level = event.target.closest?.(".level");
  if (level) showDefinition(level.closest(".item"), level);
});
form.addEventListener("pointerout", (event) => {
  const level = event.target.closest?.(".level");
  if (level && !level.contains(event.relatedTarget)) showDefinition(level.closest(".item"));
});
form.addEventListener("focusin", (event) => {
  const level = event.target.closest?.(".level");
  if (level) showDefinition(level.closest(".item"), level);
});
form.addEventListener("focusout", (event) => {
  const level = event.target.closest?.(".level");
  if (level) showDefinition(level.closest(".item"));
});

form.addEventListener("submit", (event) => {
  if (submitting) return event.preventDefault(); // a second Enter must not store a second revision
  const missing = missingItems();
  if (missing.length) {
    event.preventDefault();
    showError(`Score every item before saving. Missing: ${missing.map((item) => item.dataset.label).join("; ")}.`);
    for (const item of missing) item.classList.add("missing");
    focusItem(missing[0]);
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

const SHORTCUTS = viewer
  ? {
      i: viewerActions.invert,
      r: viewerActions.reset,
      d: () => preset("default"),
      l: () => preset("lung"),
      s: () => preset("soft"),
      "+": viewerActions["zoom-in"],
      "=": viewerActions["zoom-in"],
      "-": viewerActions["zoom-out"],
    }
  : {};
SHORTCUTS.n = () => {
  const link = panel.querySelector('a[data-nav="next"]');
  if (link) leave(link);
};
SHORTCUTS["?"] = () => help.showModal();
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
    const into = readOnly ? null : item ?? missingItems()[0] ?? (target.closest?.("#submit") ? null : open()[0]);
    if (into) {
      event.preventDefault();
      scoreWithDigit(into, Number(key));
    }
    return;
  }
  if (key === "ArrowDown" || key === "ArrowUp") {
    // Up and down move between items (from nowhere: to the first item not scored).
    if (!item && target !== document.body) return;
    event.preventDefault();
    const to = item ? neighbour(item, key === "ArrowDown" ? 1 : -1) : missingItems()[0] ?? open()[0];
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

form.noValidate = true; // checked here, with a message that names the missing items
updateDependents();
updateTotals();
for (const item of items) reserveDefinitionSpace(item);
saved = snapshot();

// Confirmations ("Final score recorded") give the image its room back after a moment; errors stay.
setTimeout(() => {
  const list = document.querySelector("body > .messages");
  if (!list) return;
  for (const message of list.querySelectorAll("li:not(.msg-error)")) message.remove();
  if (!list.children.length) list.remove();
}, 5000);
