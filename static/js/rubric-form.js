// The rubric form shared by the reading room (read.js) and the adjudication page (adjudicate.js):
// one .item fieldset per rubric item (templates/includes/rubric_groups.html), a button per level,
// the level's definition on a line under them, live totals, #remaining and #form-error in the form.
//
// Nothing looks chosen before a choice: totals show a dash until an item counts towards them, and a
// definition in italics only previews the level under the pointer or the keyboard focus.
//
// The reading room replaces its form for each case: it makes a new RubricForm each time and sends
// the events of its (lasting) root to the current one; previewDefinitions works the same way.

export const isOff = (item) => item.classList.contains("disabled");

export class RubricForm {
  /**
   * form: the <form> holding the items; spec: the totals ({ key, terms }, rubric_totals_spec);
   * readOnly: nothing may be chosen; complete: what #remaining says once every item is scored;
   * markNext: outline the item a digit goes to (class next-up); announce(text): for screen readers.
   */
  constructor(form, { spec, readOnly = false, complete, markNext = false, announce }) {
    this.form = form;
    this.items = [...form.querySelectorAll(".item")];
    Object.assign(this, { spec, readOnly, complete, markNext, announce });
  }

  /** Checked here instead of by the browser, with a message that names the missing items. */
  mount() {
    this.form.noValidate = true;
    this.refresh();
    for (const item of this.items) reserveDefinitionSpace(item);
  }

  valueOf(key) {
    const checked = this.form.querySelector(`input[name="${key}"]:checked`);
    return checked ? Number(checked.value) : null;
  }

  open() {
    return this.items.filter((item) => !isOff(item));
  }

  missing() {
    return this.open().filter((item) => this.valueOf(item.dataset.item) === null);
  }

  neighbour(item, step) {
    const open = this.open();
    return open[open.indexOf(item) + step] ?? null;
  }

  refresh() {
    this.updateDependents();
    this.updateTotals();
  }

  /** A level was chosen: dependents, totals and the item's definition follow. */
  changed(event) {
    this.refresh();
    const item = event.target.closest(".item");
    if (item) showDefinition(item, event.target.matches(":focus") ? event.target.closest(".level") : null);
  }

  updateDependents() {
    // A dependent item (RALE density) is scored only when its parent (extent) is above 0.
    for (const item of this.form.querySelectorAll(".item[data-requires]")) {
      const off = !this.valueOf(item.dataset.requires);
      item.classList.toggle("disabled", off);
      item.setAttribute("aria-disabled", String(off));
      item.setAttribute("aria-required", String(!off));
      for (const input of item.querySelectorAll("input")) {
        input.disabled = off || this.readOnly;
        input.required = !off;
        if (off) input.checked = false;
      }
      if (off) showDefinition(item);
    }
  }

  updateTotals() {
    const missing = this.missing();
    const unscored = new Set(missing.map((item) => item.dataset.item));
    for (const total of this.spec) {
      const out = this.form.querySelector(`output[data-total="${total.key}"]`);
      const value = total.terms.reduce((sum, term) => sum + term.reduce((p, key) => p * (this.valueOf(key) ?? 0), 1), 0);
      const keys = total.terms.flat();
      // Nothing scored yet: a dash, not a 0 (a number before any choice would anchor it).
      if (keys.every((key) => this.valueOf(key) === null)) out.textContent = "–";
      else out.textContent = keys.some((key) => unscored.has(key)) ? `${value}…` : String(value);
    }
    for (const item of this.items) if (!unscored.has(item.dataset.item)) item.classList.remove("missing");
    const remaining = this.form.querySelector("#remaining");
    if (remaining && !this.readOnly) {
      remaining.textContent = missing.length
        ? `${missing.length} item${missing.length === 1 ? "" : "s"} left to score`
        : this.complete;
      remaining.classList.toggle("complete", !missing.length);
      if (this.markNext) this.markNextItem(missing[0]);
    }
    if (!missing.length) this.hideError();
  }

  markNextItem(next) {
    // Where a digit goes when no item has the focus: outlined as a whole, no level singled out.
    for (const item of this.items) item.classList.toggle("next-up", item === next);
  }

  /** Choose the level `digit` of `item`; false (and said why) when it has no such level. */
  score(item, digit) {
    const radio = item.querySelector(`input[value="${digit}"]`);
    if (!radio || radio.disabled) {
      const values = [...item.querySelectorAll("input")].map((input) => input.value);
      this.announce(`${item.dataset.label}: ${digit} is not a level; choose ${values[0]} to ${values.at(-1)}.`);
      item.classList.remove("rejected");
      void item.offsetWidth; // restart the CSS animation
      item.classList.add("rejected");
      return false;
    }
    chooseLevel(radio);
    return true;
  }

  /** A half-filled form is refused: says which items are missing, marks them, returns the first. */
  refuseMissing() {
    const missing = this.missing();
    if (!missing.length) return null;
    this.showError(`Score every item before saving. Missing: ${missing.map((item) => item.dataset.label).join("; ")}.`);
    for (const item of missing) item.classList.add("missing");
    return missing[0];
  }

  showError(text) {
    const line = this.form.querySelector("#form-error");
    line.textContent = text;
    line.hidden = false;
  }

  hideError() {
    const line = this.form.querySelector("#form-error");
    if (line && !line.hidden) line.hidden = true;
  }
}

export function chooseLevel(radio) {
  radio.checked = true;
  radio.dispatchEvent(new Event("change", { bubbles: true }));
}

export function showDefinition(item, level = null) {
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

/** Preview the definition of the level under the pointer or the focus; `levels` selects them in root. */
export function previewDefinitions(root, levels = ".level") {
  const levelOf = (event) => event.target.closest?.(levels);
  root.addEventListener("pointerover", (event) => {
    const level = levelOf(event);
    if (level) showDefinition(level.closest(".item"), level);
  });
  root.addEventListener("pointerout", (event) => {
    const level = levelOf(event);
    if (level && !level.contains(event.relatedTarget)) showDefinition(level.closest(".item"));
  });
  root.addEventListener("focusin", (event) => {
    const level = levelOf(event);
    if (level) showDefinition(level.closest(".item"), level);
  });
  root.addEventListener("focusout", (event) => {
    const level = levelOf(event);
    if (level) showDefinition(level.closest(".item"));
  });
}
