// Reading page: scoring by keyboard or mouse, live totals, visible reading time, and the next case
// without a full page reload (fetch + history.pushState). Without JavaScript the page is a plain
// form that posts and redirects, and the server validates either way; this module only upgrades it.
import { RubricForm, chooseLevel, isOff, previewDefinitions } from "./rubric-form.js";
import { decodeImage } from "./viewer.js";
import { startViewer } from "./viewer-toolbar.js";

const reader = document.getElementById("reader");
const announcer = document.getElementById("announcer");
const help = document.getElementById("shortcuts");
const { viewer, image: firstImage, keys: viewerKeys } = startViewer(document.getElementById("viewer"), {
  announce,
  help,
  show: false, // each case shows its own image (mount)
});
const images = new Map(); // url -> Promise<HTMLImageElement>: the current image and the next one
const unsavedDialog = document.getElementById("unsaved");
let panel = null;
let rubric = null; // the current case's form (a RubricForm): replaced with the panel
let timer = null;
let busy = false;
let saved = {}; // the case's stored values when it was shown: what "unsaved" is measured against
let leaving = false; // the rater chose to leave (or a save went through): the page no longer asks

// --- reading time: only while the page is visible (a hidden tab does not count) -----------------

class VisibleTimer {
  constructor() {
    this.ms = 0;
    this.since = document.visibilityState === "visible" ? performance.now() : null;
  }

  pause() {
    if (this.since !== null) this.ms += performance.now() - this.since;
    this.since = null;
  }

  resume() {
    if (this.since === null) this.since = performance.now();
  }

  seconds() {
    const running = this.since === null ? 0 : performance.now() - this.since;
    return (this.ms + running) / 1000;
  }
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") timer?.resume();
  else timer?.pause();
});

// --- the scoring form ----------------------------------------------------------------------------

const ratingForm = () => panel.querySelector("#rating-form");
const readOnly = () => panel.hasAttribute("data-read-only");

function focusItem(item) {
  if (!item) {
    panel.querySelector("#submit")?.focus();
    return;
  }
  // An item without a value takes the focus itself, not its first level: a focused "0" would look
  // chosen before any choice (an anchoring risk). Digits and arrows work on the focused item.
  const radio = item.querySelector("input:checked");
  if (radio) radio.focus();
  else if (!isOff(item)) item.focus();
}

function announce(text) {
  announcer.textContent = "";
  setTimeout(() => { announcer.textContent = text; }, 50);
}

// --- flag ----------------------------------------------------------------------------------------

function openFlag() {
  const details = panel.querySelector("#flag");
  if (!details) return;
  details.open = true;
  details.scrollIntoView({ block: "nearest" });
  const reasons = details.querySelectorAll('input[name="reason"]');
  (details.querySelector('input[name="reason"]:checked') ?? reasons[0])?.focus();
}

function closeFlag() {
  const details = panel.querySelector("#flag");
  if (details) details.open = false;
  focusItem(rubric.missing()[0] ?? rubric.items[0]);
}

function checkFlag(form) {
  const reason = form.querySelector('input[name="reason"]:checked');
  const error = form.querySelector("#flag-error");
  let problem = "";
  if (!reason) problem = "Choose a reason.";
  else if (reason.value === "other" && !form.elements.note.value.trim()) problem = "Say why in the note.";
  error.textContent = problem;
  error.hidden = !problem;
  if (problem) (reason ? form.elements.note : form.querySelector('input[name="reason"]')).focus();
  return !problem;
}

// --- moving between cases without a full page reload --------------------------------------------

function imageFor(url) {
  if (!images.has(url)) {
    const loading = decodeImage(url);
    loading.catch(() => images.delete(url));
    images.set(url, loading);
  }
  return images.get(url);
}

async function go(url, init = {}, { push = true } = {}) {
  busy = true;
  reader.setAttribute("aria-busy", "true");
  try {
    const response = await fetch(url, { ...init, cache: "no-store", credentials: "same-origin" });
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const next = doc.getElementById("panel");
    if (!next) {
      // The done page, the login page after a timeout, ...: load it as a page. A save went through
      // or the rater chose to leave: nothing is left to ask about.
      if (response.ok) {
        leaving = true;
        return window.location.assign(response.url);
      }
      // 404: not the rater's, held back, or (a study with repeat reads) saved and closed.
      throw new Error(response.status === 404 ? "that case cannot be opened." : `the server answered ${response.status}. Try again.`);
    }
    if (push && response.url !== window.location.href) history.pushState({ reading: true }, "", response.url);
    swap(doc, next);
  } catch (error) {
    // Back or Forward to a case that did not load: the address goes back to the case on screen.
    if (!push) history.replaceState({ reading: true }, "", new URL(ratingForm().getAttribute("action"), url).href);
    const message = error.message.endsWith(".") ? error.message : `${error.message}. Try again.`;
    rubric.showError(`${init.method === "POST" ? "Not saved" : "Not loaded"}: ${message}`);
  } finally {
    busy = false;
    reader.removeAttribute("aria-busy");
  }
}

function swap(doc, next) {
  document.title = doc.title;
  document.querySelector("body > .messages")?.remove();
  const messages = doc.querySelector("body > .messages");
  if (messages) document.querySelector("main").before(document.adoptNode(messages));
  const sameCase = next.dataset.case === panel.dataset.case;
  panel.replaceWith(document.adoptNode(next));
  mount({ sameCase });
}

function mount({ sameCase = false } = {}) {
  panel = document.getElementById("panel");
  saved = JSON.parse(panel.querySelector("#saved-values")?.textContent || "null") ?? {};
  rubric = new RubricForm(ratingForm(), {
    spec: JSON.parse(panel.querySelector("#rubric-totals").textContent),
    readOnly: readOnly(),
    complete: "All items scored · Enter saves",
    announce,
  });
  rubric.mount();
  if (!sameCase) {
    // A 400 answer for the same case keeps the clock and the view; a new case starts both afresh.
    timer = new VisibleTimer();
    const { image, upcomingImage, position, total, done } = panel.dataset;
    viewer.show(imageFor(image), `Chest X-ray, case ${position} of ${total}`);
    if (upcomingImage) imageFor(upcomingImage); // prefetch: "Save and next" leads there
    for (const url of images.keys()) if (url !== image && url !== upcomingImage) images.delete(url);
    panel.querySelector("#panel-body").scrollTop = 0;
    announce(`Case ${position} of ${total}; ${done} done.`);
  }
  if (!readOnly()) focusItem(rubric.missing()[0] ?? rubric.items[0]);
  dismissMessages();
}

function dismissMessages() {
  // Confirmations ("Case flagged.") give the image its room back after a moment; errors stay.
  const list = document.querySelector("body > .messages");
  if (!list) return;
  setTimeout(() => {
    for (const message of list.querySelectorAll("li:not(.msg-error)")) message.remove();
    if (!list.children.length) list.remove();
  }, 5000);
}

// --- unsaved changes: asked before they are dropped ----------------------------------------------

function unsaved() {
  // Scores that differ from what is stored for the case (a half-filled form counts too).
  if (!panel || readOnly()) return false;
  return rubric.items.some((item) => rubric.valueOf(item.dataset.item) !== (saved[item.dataset.item] ?? null));
}

function confirmLeave() {
  // Resolves to true when the page may move on: nothing unsaved, or the rater chose to leave it.
  if (!unsaved()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const closed = () => {
      // The close event comes as a task of its own: Esc then N at once can deliver the first
      // opening's close to this one while the dialog is open again. Only a real close answers.
      if (unsavedDialog.open) return;
      unsavedDialog.removeEventListener("close", closed);
      resolve(unsavedDialog.returnValue === "leave");
    };
    unsavedDialog.returnValue = "";
    unsavedDialog.addEventListener("close", closed);
    unsavedDialog.showModal();
  });
}

async function leaveTo(url) {
  if (!(await confirmLeave())) return;
  leaving = true;
  window.location.assign(url);
}

// Leaving the page any other way (closing the tab, reloading, logging out, typing a URL): the
// browser's own question.
window.addEventListener("beforeunload", (event) => {
  if (leaving || !unsaved()) return;
  event.preventDefault();
  event.returnValue = "";
});

// Any other link on the page (the case list, the top bar): the same question, in the page.
document.addEventListener("click", (event) => {
  const link = event.target.closest?.("a[href]");
  if (!link || link.matches("[data-nav]") || link.target || event.defaultPrevented) return;
  if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey || !unsaved()) return;
  event.preventDefault();
  leaveTo(link.href);
});

// --- events (delegated: the panel is replaced for each case) -------------------------------------

reader.addEventListener("change", (event) => {
  if (event.target.closest("#rating-form")) rubric.changed(event);
});
previewDefinitions(reader, "#rating-form .level");

reader.addEventListener("submit", (event) => {
  const form = event.target;
  if (!panel.contains(form)) return;
  event.preventDefault();
  if (busy) return; // a second Enter while saving must not store a second revision
  if (form.id === "rating-form") {
    const missing = rubric.refuseMissing();
    if (missing) {
      focusItem(missing);
      return;
    }
    form.elements.reading_time_s.value = timer.seconds().toFixed(2);
  } else if (form.id === "flag-form" && !checkFlag(form)) {
    return;
  }
  go(form.action, { method: "POST", body: new FormData(form) });
});

reader.addEventListener("click", async (event) => {
  const link = event.target.closest("a[data-nav]");
  if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  if (!busy && (await confirmLeave())) go(link.href);
});

window.addEventListener("popstate", async () => {
  const target = window.location.href;
  if (unsaved()) {
    // Back or Forward has already changed the URL: put the case's own back while the rater decides.
    history.pushState({ reading: true }, "", new URL(ratingForm().getAttribute("action"), target).href);
    if (!(await confirmLeave())) return;
    return go(target);
  }
  go(target, {}, { push: false });
});

// --- keyboard shortcuts (the viewer's own come from startViewer) ---------------------------------

async function navigate(which) {
  const link = panel.querySelector(`a[data-nav="${which}"]`);
  if (link && !busy && (await confirmLeave())) go(link.href);
}

const SHORTCUTS = {
  ...viewerKeys,
  f: openFlag,
  p: () => navigate("previous"),
  n: () => navigate("next"),
  c: () => leaveTo(panel.querySelector("#my-cases").href),
  "?": () => help.showModal(),
};
const TYPING = "textarea, select, input:not([type=radio]):not([type=checkbox]):not([type=button]):not([type=submit])";

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
  if (help.open || unsavedDialog.open) return;
  const { key, target } = event;
  const inFlag = Boolean(target.closest?.("#flag"));
  if (key === "Escape" && inFlag) return closeFlag();
  if (target.matches?.(TYPING)) return; // the flag note: Enter submits it natively
  const item = target.closest?.("#rating-form .item");
  if (/^[0-9]$/.test(key)) {
    const into = inFlag || readOnly() ? null : item ?? rubric.missing()[0];
    if (into) {
      event.preventDefault();
      if (rubric.score(into, Number(key))) focusItem(rubric.neighbour(into, 1));
    }
    return;
  }
  if (item && target === item && (key === "ArrowRight" || key === "ArrowLeft") && !readOnly()) {
    // An item with no value yet has the focus itself: an arrow enters its scale at either end.
    const open = [...item.querySelectorAll("input:not(:disabled)")];
    const radio = key === "ArrowRight" ? open[0] : open.at(-1);
    if (radio) {
      event.preventDefault();
      radio.focus();
      chooseLevel(radio);
    }
    return;
  }
  if (item && key === "Tab" && !readOnly()) {
    // Tab moves item by item as the arrows do, onto the chosen level or the item itself (never
    // onto a level nobody chose); past the last item, to Save.
    const to = rubric.neighbour(item, event.shiftKey ? -1 : 1);
    if (to || !event.shiftKey) {
      event.preventDefault();
      focusItem(to);
    }
    return;
  }
  if (item && (key === "ArrowDown" || key === "ArrowUp")) {
    // Up and down move between items; left and right (native radio keys) change the level.
    event.preventDefault();
    const to = rubric.neighbour(item, key === "ArrowDown" ? 1 : -1);
    if (to || key === "ArrowDown") focusItem(to);
    return;
  }
  if (key === "Enter") {
    if (target.closest?.("a, button, summary, dialog")) return; // their own Enter
    event.preventDefault();
    const form = inFlag ? panel.querySelector("#flag-form") : ratingForm();
    if (!readOnly()) form?.requestSubmit();
    return;
  }
  const action = SHORTCUTS[key] ?? SHORTCUTS[key.toLowerCase()];
  if (action && !(inFlag && key.toLowerCase() === "f")) {
    event.preventDefault();
    action();
  }
});

// --- start: the canvas has taken the plain <img>'s place (startViewer); mount the first case ----

images.set(document.getElementById("xray").getAttribute("src"), firstImage);
history.replaceState({ reading: true }, "", window.location.href);
mount();
