// Live, gentle feedback while choosing a password: length first, then variety.
// The server still checks everything (length, breached list, name and email).
(function () {
  "use strict";
  var input = document.getElementById("password");
  var out = document.getElementById("password-strength");
  if (!input || !out) { return; }
  input.addEventListener("input", function () {
    var value = input.value;
    var words = value.trim().split(/\s+/).filter(Boolean).length;
    if (value.length === 0) {
      out.textContent = "";
    } else if (value.length < 12) {
      out.textContent = (12 - value.length) + " more characters needed.";
    } else if (words >= 3 || value.length >= 20) {
      out.textContent = "Good length. Avoid well-known phrases and song lyrics.";
    } else {
      out.textContent = "Long enough. Adding another unrelated word makes it much stronger.";
    }
  });
}());
