// The warning before the server signs an idle person out, following the server's own
// count: before warning and before leaving, the page asks how long the session has left,
// so activity in another tab keeps this one open. Typing counts as activity. Just before
// the sign-out, what was typed into an observation form is sent to be kept, and the page
// signs out. Without this script the server still signs the person out and the next page
// asks them to sign in.
(function () {
  "use strict";
  var box = document.getElementById("idle-warning");
  if (!box) { return; }
  var idle = Number(box.dataset.idleSeconds) * 1000;
  var warnBefore = Number(box.dataset.warnSeconds) * 1000;
  var leaveBefore = Math.min(2000, warnBefore / 5);  // time to keep a form and sign out
  var statusUrl = box.dataset.statusUrl;
  var keepAlive = box.querySelector("form");
  var typingPing = Math.min(60000, idle / 10);
  var lastPing = Date.now();
  var typed = false;
  var warnTimer, leaveTimer;

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      body: body,
      headers: { "Accept": "application/json" },
      credentials: "same-origin"
    });
  }

  function askServer() {
    return fetch(statusUrl, {
      headers: { "Accept": "application/json" },
      credentials: "same-origin",
      cache: "no-store"
    }).then(function (response) { return response.json(); });
  }

  function schedule(remaining) {
    clearTimeout(warnTimer);
    clearTimeout(leaveTimer);
    box.hidden = true;
    warnTimer = setTimeout(warn, Math.max(remaining - warnBefore, 0));
    leaveTimer = setTimeout(leaveUnlessActiveElsewhere, Math.max(remaining - leaveBefore, 0));
  }

  function warn() {
    askServer().then(function (status) {
      if (!status.signed_in) { go(status); return; }
      if (status.remaining * 1000 > warnBefore) { schedule(status.remaining * 1000); return; }
      box.hidden = false;
      box.querySelector("button").focus();
    }).catch(function () { box.hidden = false; });
  }

  function leaveUnlessActiveElsewhere() {
    askServer().then(function (status) {
      if (status.signed_in && status.remaining * 1000 > leaveBefore + 500) {
        schedule(status.remaining * 1000);
        return;
      }
      keepTypedThenSignOut(status);
    }).catch(function () { go({}); });
  }

  function typedForm() {
    var form = document.querySelector("form[data-keep-unsaved]");
    if (!form || !typed) { return null; }
    var body = new FormData(form);
    body.delete("photo");
    return { url: form.dataset.keepUnsaved, body: body };
  }

  function keepTypedThenSignOut(status) {
    if (!status.signed_in) { go(status); return; }
    var kept = typedForm();
    var signOut = document.querySelector("form[action$='/logout']");
    (kept ? post(kept.url, kept.body) : Promise.resolve())
      .then(function () { return signOut ? post(signOut.action, new FormData(signOut)) : null; })
      .then(function () { go(status); }, function () { go(status); });
  }

  // Why the server ended the session (/session/status), as the sign-in page says it.
  var ENDED = { access_ended: "/login?ended=access", signed_in_too_long: "/login?ended=limit" };

  function go(status) {
    window.location.assign(ENDED[status.ended] || "/login?timeout=1");
  }

  function stillHere() {
    lastPing = Date.now();
    return post(keepAlive.action, new FormData(keepAlive)).then(function (response) {
      if (response.ok) { schedule(idle); } else { go({}); }
    });
  }

  keepAlive.addEventListener("submit", function (event) {
    event.preventDefault();
    stillHere();
  });
  // Typing is activity: tell the server now and then (not at every key).
  document.addEventListener("input", function (event) {
    if (event.target.closest("form[data-keep-unsaved]")) { typed = true; }
    if (Date.now() - lastPing > typingPing) { stillHere(); }
  });
  document.addEventListener("submit", function (event) {
    if (event.target.matches("form[data-keep-unsaved]")) { typed = false; }
  });
  schedule(idle);
}());
