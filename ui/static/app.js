// Keyboard review on /review: c confirm, r reject, s skip, l relabel. Elements say their key in data-key; no inline
// script anywhere (the Content-Security-Policy allows scripts from this file only).
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target && ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName)) return;
  const element = document.querySelector(`[data-key="${CSS.escape(event.key)}"]`);
  if (!element) return;
  event.preventDefault();
  if (element.tagName === "SELECT") element.focus();
  else element.click();
});
