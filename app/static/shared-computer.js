// Once "shared or public computer" is ticked, ask the browser not to remember what is
// typed into the sign-in form. Without this script the form works the same; the page
// itself never fills anything in.
(function () {
  "use strict";
  var box = document.getElementById("shared_computer");
  if (!box) { return; }
  var fields = Array.prototype.slice.call(box.form.querySelectorAll("input[autocomplete]"));
  fields.forEach(function (field) { field.dataset.usual = field.getAttribute("autocomplete"); });
  function apply() {
    fields.forEach(function (field) {
      field.setAttribute("autocomplete", box.checked ? "off" : field.dataset.usual);
    });
  }
  box.addEventListener("change", apply);
  apply();
}());
