// Small behaviours the pages share, kept out of inline handlers so the Content Security
// Policy can forbid inline scripts: confirmations before destructive forms, filters
// that apply as soon as they change, Copy buttons, and the chat's suggestions.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.dataset && form.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field.dataset && field.dataset.autosubmit !== undefined && field.form) field.form.submit();
});

function copyText(text) {
  // The clipboard API needs a secure context (https or loopback); elsewhere the old way.
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  const done = document.execCommand("copy");
  area.remove();
  return done ? Promise.resolve() : Promise.reject(new Error("copy refused"));
}

document.addEventListener("click", (event) => {
  const button = event.target.closest && event.target.closest("[data-copy]");
  if (button) {
    const source = document.getElementById(button.dataset.copy);
    const label = button.textContent;
    copyText(source ? source.textContent : "").then(
      () => { button.textContent = "Copied"; },
      () => { button.textContent = "Select and copy"; },
    ).finally(() => setTimeout(() => { button.textContent = label; }, 2000));
    return;
  }
  // A suggestion in the chat's answer: it becomes the message, and is sent at once
  // unless it is only an example to adapt.
  const chip = event.target.closest && event.target.closest("[data-suggest]");
  if (chip) {
    const form = document.getElementById("chat-form");
    if (!form) return;
    const box = form.querySelector("textarea");
    box.value = chip.dataset.suggest;
    box.focus();
    if (chip.dataset.send === "1") form.requestSubmit();
  }
});
