// Warn two minutes before the server signs an idle person out; "Stay signed in"
// refreshes the session without leaving the page. Without this script the
// server still signs the person out and the next page asks them to sign in.
(function () {
  "use strict";
  var box = document.getElementById("idle-warning");
  if (!box) { return; }
  var idle = Number(box.dataset.idleSeconds) * 1000;
  var warnBefore = Number(box.dataset.warnSeconds) * 1000;
  var form = box.querySelector("form");
  var warnTimer, endTimer;

  function schedule() {
    clearTimeout(warnTimer);
    clearTimeout(endTimer);
    box.hidden = true;
    warnTimer = setTimeout(function () {
      box.hidden = false;
      box.querySelector("button").focus();
    }, Math.max(idle - warnBefore, 0));
    endTimer = setTimeout(function () {
      window.location.assign("/login?timeout=1");
    }, idle + 1000);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "Accept": "application/json" },
      credentials: "same-origin"
    }).then(function (response) {
      if (response.ok) { schedule(); } else { window.location.assign("/login?timeout=1"); }
    });
  });
  schedule();
}());
