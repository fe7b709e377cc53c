// The case page: the reading room's canvas viewer with its toolbar and keys, and nothing to score.
// Without JavaScript the plain image shows.
import { startViewer } from "./viewer-toolbar.js";

const root = document.getElementById("viewer");

if (root?.querySelector(".viewer-toolbar")) {
  const { keys } = startViewer(root);
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.target.closest("input, textarea, select")) return;
    const action = keys[event.key.toLowerCase()];
    if (!action) return;
    event.preventDefault();
    action();
  });
}
