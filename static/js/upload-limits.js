// Before a long upload starts: the server's limits (data-max-files, data-max-file-bytes,
// data-max-request-bytes on the form) checked on the files chosen, with the reason shown next to the
// form. The server refuses the same uploads anyway (core/uploads.py); this only spares the wait.
const megabytes = (bytes) => `${Math.round(bytes / 1024 / 1024).toLocaleString()} MB`;

function uploadProblem(form) {
  const files = Array.from(form.querySelector("input[type=file]")?.files ?? []);
  const maxFiles = Number(form.dataset.maxFiles);
  const maxFile = Number(form.dataset.maxFileBytes);
  const maxRequest = Number(form.dataset.maxRequestBytes);
  if (files.length > maxFiles) {
    return `${files.length} files chosen, more than ${maxFiles} in one upload: put them in a .zip archive, or upload them in batches.`;
  }
  for (const file of files) {
    const isZip = file.name.toLowerCase().endsWith(".zip");
    const limit = isZip ? maxRequest : maxFile;
    if (file.size > limit) {
      return `${file.name} is ${megabytes(file.size)}, larger than the limit of ${megabytes(limit)} for ${isZip ? "an archive" : "one file"}.`;
    }
  }
  const total = files.reduce((sum, file) => sum + file.size, 0);
  if (total > maxRequest) {
    return `The files chosen are ${megabytes(total)} together, above the limit of ${megabytes(maxRequest)} for one upload.`;
  }
  return "";
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.dataset?.maxFiles) return;
  const problem = uploadProblem(form);
  const note = form.querySelector(".upload-problem");
  note.textContent = problem ? `Nothing uploaded: ${problem}` : "";
  note.hidden = !problem;
  if (problem) event.preventDefault();
});
