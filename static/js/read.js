// Reading page: live totals, dependent items, visible reading time, digit keys.
const form = document.getElementById("rating-form");
const spec = JSON.parse(document.getElementById("rubric-totals").textContent);
const timeField = document.getElementById("reading_time_s");

function valueOf(key) {
  const checked = form.querySelector(`input[name="${key}"]:checked`);
  return checked ? Number(checked.value) : null;
}

function updateDependents() {
  // RALE density is only scored when its extent is above 0.
  for (const item of form.querySelectorAll(".item[data-requires]")) {
    const parent = valueOf(item.dataset.requires);
    const off = !parent;
    item.classList.toggle("disabled", off);
    for (const input of item.querySelectorAll("input")) {
      input.disabled = off;
      if (off) input.checked = false;
    }
  }
}

function updateTotals() {
  for (const total of spec) {
    const out = form.querySelector(`output[data-total="${total.key}"]`);
    const keys = total.terms.flat();
    const complete = keys.every((k) => valueOf(k) !== null || form.querySelector(`.item[data-item="${k}"].disabled`));
    const value = total.terms.reduce((sum, term) => sum + term.reduce((p, k) => p * (valueOf(k) ?? 0), 1), 0);
    out.textContent = complete ? String(value) : `${value}…`;
  }
}

// Reading time counts only while the page is visible: a hidden tab does not count.
let visibleMs = 0;
let visibleSince = document.visibilityState === "visible" ? performance.now() : null;
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") visibleSince = performance.now();
  else if (visibleSince !== null) { visibleMs += performance.now() - visibleSince; visibleSince = null; }
});
function readingSeconds() {
  const running = visibleSince !== null ? performance.now() - visibleSince : 0;
  return ((visibleMs + running) / 1000).toFixed(2);
}

// Digits set the focused item; Enter submits (the browser's default for a form).
form.addEventListener("keydown", (event) => {
  const item = event.target.closest?.(".item");
  if (!item || !/^[0-9]$/.test(event.key)) return;
  const radio = item.querySelector(`input[value="${event.key}"]:not(:disabled)`);
  if (radio) { radio.checked = true; radio.focus(); radio.dispatchEvent(new Event("change", { bubbles: true })); event.preventDefault(); }
});

form.addEventListener("change", () => { updateDependents(); updateTotals(); });
form.addEventListener("submit", () => { timeField.value = readingSeconds(); });
updateDependents();
updateTotals();
