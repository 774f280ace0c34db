// Small behaviours the pages share, kept out of inline handlers so the Content Security
// Policy can forbid inline scripts: confirmations before destructive forms, and filters
// that apply as soon as they change.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.dataset && form.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field.dataset && field.dataset.autosubmit !== undefined && field.form) field.form.submit();
});
