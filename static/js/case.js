// The case page: the reading room's canvas viewer (viewer.js) with its toolbar and keys, and
// nothing to score. Without JavaScript the plain image shows.
import { Viewer } from "./viewer.js";

const root = document.getElementById("viewer");
const toolbar = root?.querySelector(".viewer-toolbar");

if (toolbar) {
  const plain = document.getElementById("xray");
  const viewer = new Viewer(root);
  plain.hidden = true;
  for (const selector of ["canvas", ".viewer-hint", ".readout"]) root.querySelector(selector).hidden = false;
  toolbar.hidden = false;
  viewer.show(plain.decode().then(() => plain), plain.alt);

  const actions = {
    "zoom-in": () => viewer.zoomBy(1.25),
    "zoom-out": () => viewer.zoomBy(0.8),
    reset: () => viewer.reset(),
    invert: () => viewer.toggleInvert(),
    "wl-drag": (button) => {
      viewer.wlDrag = !viewer.wlDrag;
      button.setAttribute("aria-pressed", String(viewer.wlDrag));
    },
  };
  toolbar.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.preset) viewer.preset(button.dataset.preset);
    else actions[button.dataset.action]?.(button);
  });
  root.addEventListener("viewerchange", (event) => {
    for (const button of toolbar.querySelectorAll("[data-preset]")) {
      button.setAttribute("aria-pressed", String(button.dataset.preset === event.detail.preset));
    }
    toolbar.querySelector('[data-action="invert"]').setAttribute("aria-pressed", String(event.detail.invert));
  });
  const keys = { "+": "zoom-in", "=": "zoom-in", "-": "zoom-out", r: "reset", i: "invert" };
  const presets = { d: "default", l: "lung", s: "soft" };
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.target.closest("input, textarea, select")) return;
    const key = event.key.toLowerCase();
    if (presets[key]) viewer.preset(presets[key]);
    else if (keys[key]) actions[keys[key]]();
    else return;
    event.preventDefault();
  });
}
