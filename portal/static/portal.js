// Progressive enhancement only: every form works without this file.
document.addEventListener("click", function (ev) {
  var btn = ev.target.closest ? ev.target.closest("button.copy") : null;
  if (!btn) return;
  var field = document.getElementById(btn.getAttribute("data-copy"));
  if (!field) return;
  field.select();
  if (navigator.clipboard) { navigator.clipboard.writeText(field.value).catch(function () { document.execCommand("copy"); }); }
  else { document.execCommand("copy"); }
  btn.textContent = "✔";
});
