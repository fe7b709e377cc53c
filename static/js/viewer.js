// A canvas viewer for the 8-bit display image: fit to screen, zoom, pan, window/level, invert.
//
// The server sends an 8-bit greyscale PNG that is already windowed (for DICOM with the file's own
// VOI window, see annotation/imaging.py). Window/level therefore works on display values 0..255:
// a 256-entry lookup table maps each grey value, which is fast enough to redraw while dragging.
// The "default" window is the display image's full range, i.e. the window the file asked for.
// "Lung" and "soft tissue" stretch the dark and the bright part of this image's own grey values
// (percentiles of its histogram, pure black and white borders left out): the display images come
// from many sources and exposures, and a fixed display window would suit one and clip the next.
//
// State is mirrored into data-* attributes of the root element (zoom, pan, window, invert), so
// tests and styles can read it without reaching into this module.
//
// Public API (used through static/js/viewer-toolbar.js by the reading room, the adjudication page
// and the case page; keep it backward compatible):
//   import { PRESETS, Viewer, decodeImage } from "./viewer.js";
//   const viewer = new Viewer(root);
//     root: an element holding a .viewer-stage with a <canvas> in it (the canvas fills the stage
//     and follows its size) and, optionally, a [data-readout] element for "W · L · zoom".
//   viewer.show(decodeImage(url), label)  show an image (a promise of a decoded <img>), view reset;
//                                         root's data-state: loading, ready or error
//   viewer.zoomBy(factor, atX = 0, atY = 0)  zoom about a point relative to the canvas centre
//   viewer.panBy(dx, dy)                  pan, in CSS pixels
//   viewer.setWindow(center, width)       window/level on display values 0..255
//   viewer.preset(name)                   a window of PRESETS: "default", "lung", "soft"
//   viewer.toggleInvert() -> bool         the new state
//   viewer.reset()                        fit, default window, not inverted
//   viewer.wlDrag = true                  one-finger/left drag sets the window instead of panning
//   root "viewerchange" event             detail: { zoom, panX, panY, center, width, preset, invert }
//   root data-*                           data-zoom, data-pan-x, data-pan-y, data-window-center,
//                                         data-window-width, data-invert, data-preset, data-image
// The toolbar's buttons and the viewer's keys are wired by viewer-toolbar.js (startViewer); each
// page adds its own keys around them.

export const PRESETS = {
  default: { label: "Default window" },
  lung: { label: "Lung window", from: 0.005, to: 0.85 },
  soft: { label: "Soft-tissue window", from: 0.15, to: 0.999 },
};
const DEFAULT_WINDOW = { center: 127.5, width: 255 }; // identity: 0 -> 0, 255 -> 255
const ZOOM_MIN = 0.5; // relative to fit
const ZOOM_MAX = 20;
const WL_PER_PIXEL = 1; // display units per CSS pixel dragged

const clamp = (value, low, high) => Math.min(high, Math.max(low, value));

function initialState() {
  return { zoom: 1, panX: 0, panY: 0, ...DEFAULT_WINDOW, preset: "default", invert: false };
}

function presetWindow(name, histogram) {
  const { from, to } = PRESETS[name];
  if (from === undefined || !histogram) return { ...DEFAULT_WINDOW };
  let total = 0;
  for (let v = 1; v < 255; v++) total += histogram[v];
  if (!total) return { ...DEFAULT_WINDOW };
  const at = (share) => {
    let seen = 0;
    for (let v = 1; v < 255; v++) {
      seen += histogram[v];
      if (seen >= share * total) return v;
    }
    return 254;
  };
  const low = at(from);
  const high = Math.max(at(to), low + 64); // never so narrow that the image turns into a silhouette
  return { center: (low + high) / 2, width: high - low };
}

export class Viewer {
  constructor(root) {
    this.root = root;
    this.stage = root.querySelector(".viewer-stage");
    this.canvas = root.querySelector("canvas");
    this.ctx = this.canvas.getContext("2d", { alpha: false });
    this.readout = root.querySelector("[data-readout]");
    this.windowed = document.createElement("canvas"); // the image with the window applied
    this.image = null; // { width, height, grey: Uint8Array, pixels: ImageData, out: Uint32Array }
    this.state = initialState();
    this.wlDrag = false; // touch screens: one-finger drag sets the window instead of panning
    this.pointers = new Map();
    this.mode = null;
    this.lutDirty = true;
    this.frame = 0;
    this.loadToken = 0;
    this.bindPointer();
    new ResizeObserver(() => this.resize()).observe(this.stage);
  }

  // --- loading -----------------------------------------------------------------------------------

  /** Show an already decoding <img> (see `decodeImage`); the view is reset for each new image. */
  async show(imagePromise, label) {
    const token = ++this.loadToken;
    this.root.dataset.state = "loading";
    let img;
    try {
      img = await imagePromise;
    } catch {
      if (token === this.loadToken) this.root.dataset.state = "error";
      return;
    }
    if (token !== this.loadToken) return; // a newer case replaced this one meanwhile
    this.image = readGrey(img);
    this.windowed.width = this.image.width;
    this.windowed.height = this.image.height;
    this.canvas.setAttribute("aria-label", label);
    this.state = initialState();
    this.lutDirty = true;
    this.root.dataset.image = img.currentSrc || img.src;
    this.root.dataset.state = "ready";
    this.changed();
  }

  // --- commands (buttons, keys) ------------------------------------------------------------------

  reset() {
    this.state = initialState();
    this.lutDirty = true;
    this.changed();
  }

  zoomBy(factor, atX = 0, atY = 0) {
    // Zoom about a point given relative to the canvas centre (CSS pixels), keeping it in place.
    const { zoom, panX, panY } = this.state;
    const next = clamp(zoom * factor, ZOOM_MIN, ZOOM_MAX);
    const k = next / zoom;
    Object.assign(this.state, { zoom: next, panX: atX - (atX - panX) * k, panY: atY - (atY - panY) * k });
    this.changed();
  }

  panBy(dx, dy) {
    this.state.panX += dx;
    this.state.panY += dy;
    this.changed();
  }

  setWindow(center, width) {
    Object.assign(this.state, { center: clamp(center, -128, 384), width: clamp(width, 2, 512), preset: "" });
    this.lutDirty = true;
    this.changed();
  }

  preset(name) {
    Object.assign(this.state, presetWindow(name, this.image?.histogram), { preset: name });
    this.lutDirty = true;
    this.changed();
  }

  toggleInvert() {
    this.state.invert = !this.state.invert;
    this.lutDirty = true;
    this.changed();
    return this.state.invert;
  }

  // --- pointer: drag to pan, right/Shift-drag for window/level, two fingers to pinch ------------

  bindPointer() {
    const c = this.canvas;
    c.addEventListener("contextmenu", (event) => event.preventDefault());
    c.addEventListener("wheel", (event) => {
      event.preventDefault(); // also a trackpad pinch, which arrives as a wheel event with ctrlKey
      const unit = event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? 400 : 1;
      const [x, y] = this.fromCentre(event);
      this.zoomBy(Math.exp(-event.deltaY * unit * (event.ctrlKey ? 0.01 : 0.0015)), x, y);
    }, { passive: false });
    c.addEventListener("pointerdown", (event) => this.pointerDown(event));
    c.addEventListener("pointermove", (event) => this.pointerMove(event));
    for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
      c.addEventListener(type, (event) => this.pointerUp(event));
    }
  }

  pointerDown(event) {
    if (!this.image || (event.pointerType === "mouse" && event.button !== 0 && event.button !== 2)) return;
    event.preventDefault();
    try {
      this.canvas.setPointerCapture(event.pointerId); // keep dragging when the pointer leaves the canvas
    } catch {
      // a pointer that is already gone (or a synthetic one): drag without capture
    }
    this.pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (this.pointers.size === 1) {
      this.mode = event.button === 2 || event.shiftKey || this.wlDrag ? "window" : "pan";
    } else if (this.pointers.size === 2) {
      this.mode = "pinch";
      this.pinch = this.pinchGeometry();
    }
    this.root.dataset.dragging = this.mode;
  }

  pointerMove(event) {
    const last = this.pointers.get(event.pointerId);
    if (!last) return;
    const dx = event.clientX - last.x;
    const dy = event.clientY - last.y;
    this.pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (this.mode === "pan") this.panBy(dx, dy);
    else if (this.mode === "window") {
      // Horizontal: width (right = wider, less contrast). Vertical: level (down = darker).
      this.setWindow(this.state.center + dy * WL_PER_PIXEL, this.state.width + dx * WL_PER_PIXEL);
    } else if (this.mode === "pinch" && this.pointers.size === 2) {
      const now = this.pinchGeometry();
      this.panBy(now.x - this.pinch.x, now.y - this.pinch.y);
      if (this.pinch.distance > 0) this.zoomBy(now.distance / this.pinch.distance, now.x, now.y);
      this.pinch = now;
    }
  }

  pointerUp(event) {
    if (!this.pointers.delete(event.pointerId)) return;
    // Lifting one finger of a pinch continues as a pan, not a jump.
    this.mode = this.pointers.size === 1 ? "pan" : null;
    if (!this.mode) delete this.root.dataset.dragging;
  }

  pinchGeometry() {
    const [a, b] = [...this.pointers.values()];
    const rect = this.canvas.getBoundingClientRect();
    return {
      x: (a.x + b.x) / 2 - rect.left - rect.width / 2,
      y: (a.y + b.y) / 2 - rect.top - rect.height / 2,
      distance: Math.hypot(a.x - b.x, a.y - b.y),
    };
  }

  fromCentre(event) {
    const rect = this.canvas.getBoundingClientRect();
    return [event.clientX - rect.left - rect.width / 2, event.clientY - rect.top - rect.height / 2];
  }

  // --- drawing -----------------------------------------------------------------------------------

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const { clientWidth, clientHeight } = this.stage;
    this.canvas.width = Math.max(1, Math.round(clientWidth * dpr));
    this.canvas.height = Math.max(1, Math.round(clientHeight * dpr));
    this.schedule();
  }

  changed() {
    const s = this.state;
    Object.assign(this.root.dataset, {
      zoom: s.zoom.toFixed(3),
      panX: s.panX.toFixed(1),
      panY: s.panY.toFixed(1),
      windowCenter: String(Math.round(s.center)),
      windowWidth: String(Math.round(s.width)),
      invert: String(s.invert),
      preset: s.preset,
    });
    if (this.readout) {
      this.readout.textContent = `W ${Math.round(s.width)} · L ${Math.round(s.center)} · ${Math.round(s.zoom * 100)}%`;
    }
    this.root.dispatchEvent(new CustomEvent("viewerchange", { detail: { ...s } }));
    this.schedule();
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.draw(); });
  }

  applyWindow() {
    const { center, width, invert } = this.state;
    const low = center - width / 2;
    const lut = new Uint32Array(256);
    for (let v = 0; v < 256; v++) {
      let out = Math.round(clamp((v - low) / width, 0, 1) * 255);
      if (invert) out = 255 - out;
      lut[v] = 0xff000000 | (out << 16) | (out << 8) | out; // RGBA bytes on little-endian machines
    }
    const { grey, out, pixels } = this.image;
    for (let i = 0; i < grey.length; i++) out[i] = lut[grey[i]];
    this.windowed.getContext("2d").putImageData(pixels, 0, 0);
    this.lutDirty = false;
  }

  draw() {
    const { ctx, canvas, image } = this;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (!image) return;
    if (this.lutDirty) this.applyWindow();
    const dpr = window.devicePixelRatio || 1;
    const fit = Math.min(canvas.width / image.width, canvas.height / image.height);
    const scale = fit * this.state.zoom;
    const x = canvas.width / 2 + this.state.panX * dpr - (image.width * scale) / 2;
    const y = canvas.height / 2 + this.state.panY * dpr - (image.height * scale) / 2;
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.setTransform(scale, 0, 0, scale, x, y);
    ctx.drawImage(this.windowed, 0, 0);
  }
}

/** Start fetching and decoding an image; the promise resolves to the decoded <img>. */
export function decodeImage(url) {
  const img = new Image();
  img.decoding = "async";
  img.src = url;
  return img.decode().then(() => img);
}

function readGrey(img) {
  const width = img.naturalWidth;
  const height = img.naturalHeight;
  const scratch = document.createElement("canvas");
  scratch.width = width;
  scratch.height = height;
  const ctx = scratch.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(img, 0, 0);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const grey = new Uint8Array(width * height);
  const histogram = new Uint32Array(256);
  for (let i = 0; i < grey.length; i++) {
    grey[i] = rgba[i * 4];
    histogram[grey[i]]++;
  }
  const pixels = new ImageData(width, height);
  return { width, height, grey, histogram, pixels, out: new Uint32Array(pixels.data.buffer) };
}
