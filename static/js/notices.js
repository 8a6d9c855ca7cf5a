// Copy buttons of the web-form checklist (no inline script: CSP script-src 'self').
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copyTarget);
  if (!source) return;
  const done = document.querySelector("[data-copy-done]");
  const show = () => { if (done) done.hidden = false; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(source.value).then(show, () => { source.select(); });
  } else {
    source.select();
    document.execCommand("copy");
    show();
  }
});
