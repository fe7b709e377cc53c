// A form with data-confirm="Question?" asks before it is sent (the site's policy allows no inline
// script, so no onsubmit attribute). Without JavaScript the form is sent as it is.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset?.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
