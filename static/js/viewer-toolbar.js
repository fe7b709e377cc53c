// The canvas viewer (viewer.js) with its toolbar and keys, as the reading room, the adjudication page
// and the case page show it (templates/includes/viewer.html). Without JavaScript the plain <img> shows.
import { PRESETS, Viewer } from "./viewer.js";

/**
 * Start a Viewer on a .viewer root: the canvas, its readout and hint and the toolbar take the plain
 * image's place, which is shown under its alt text unless `show` is false (the reading room shows
 * each case itself). announce(text) says what a tool did; help is the dialog the "?" tool opens.
 * Returns the viewer, the plain image (a promise of the decoded <img>) and the viewer's keys
 * (key -> action), for the page's own keydown handler.
 */
export function startViewer(root, { announce = () => {}, help = null, show = true } = {}) {
  const viewer = new Viewer(root);
  const toolbar = root.querySelector(".viewer-toolbar");
  const plain = root.querySelector(".viewer-stage > img");
  const image = plain.decode().then(() => plain);
  plain.hidden = true;
  for (const selector of ["canvas", ".viewer-hint", ".readout"]) root.querySelector(selector).hidden = false;
  toolbar.hidden = false;
  if (show) viewer.show(image, plain.alt);

  const preset = (name) => {
    viewer.preset(name);
    announce(PRESETS[name].label);
  };
  const actions = {
    "zoom-in": () => viewer.zoomBy(1.25),
    "zoom-out": () => viewer.zoomBy(0.8),
    reset: () => {
      viewer.reset();
      announce("View reset");
    },
    invert: () => announce(viewer.toggleInvert() ? "Inverted" : "Not inverted"),
    "wl-drag": (button) => {
      viewer.wlDrag = !viewer.wlDrag;
      button.setAttribute("aria-pressed", String(viewer.wlDrag));
    },
    help: () => help?.showModal(),
  };

  // A click on a tool leaves the keyboard focus where it was (on the scores), so that the next
  // Enter saves instead of pressing the tool again.
  toolbar.addEventListener("mousedown", (event) => {
    if (event.target.closest("button")) event.preventDefault();
  });
  toolbar.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.preset) preset(button.dataset.preset);
    else actions[button.dataset.action]?.(button);
  });
  root.addEventListener("viewerchange", (event) => {
    for (const button of toolbar.querySelectorAll("[data-preset]")) {
      button.setAttribute("aria-pressed", String(button.dataset.preset === event.detail.preset));
    }
    toolbar.querySelector('[data-action="invert"]').setAttribute("aria-pressed", String(event.detail.invert));
  });

  const keys = {
    i: actions.invert,
    r: actions.reset,
    d: () => preset("default"),
    l: () => preset("lung"),
    s: () => preset("soft"),
    "+": actions["zoom-in"],
    "=": actions["zoom-in"],
    "-": actions["zoom-out"],
  };
  return { viewer, image, keys };
}
