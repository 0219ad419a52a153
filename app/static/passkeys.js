// Passkeys: the browser's part of adding one and of signing in with one.
// The server makes the options (with a one-time challenge) and checks the signed
// answer; this script only carries them between the server and the authenticator,
// then posts the answer in the page's own form (with its CSRF token).
(function () {
  "use strict";
  var status = document.getElementById("passkey-status");

  function say(message) {
    if (status) { status.textContent = message; }
  }

  function csrfToken(form) {
    var field = form.querySelector("input[name=csrf_token]");
    return field ? field.value : "";
  }

  function fetchOptions(form) {
    return fetch(form.dataset.optionsUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(form), "Accept": "application/json" }
    }).then(function (response) {
      if (!response.ok) { throw new Error("options " + response.status); }
      return response.json();
    });
  }

  function explain(error) {
    if (error && error.name === "NotAllowedError") {
      say("No passkey was used. You can try again, or use a code instead.");
    } else if (error && error.name === "InvalidStateError") {
      say("This device already holds a passkey for your account here.");
    } else {
      say("Something went wrong with the passkey. Please try again.");
    }
  }

  function send(form, credential) {
    form.querySelector("input[name=credential]").value = JSON.stringify(credential.toJSON());
    form.submit();
  }

  function supported() {
    return window.PublicKeyCredential &&
      typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function";
  }

  var register = document.getElementById("passkey-register");
  if (register && supported()) {
    register.hidden = false;
    register.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!register.querySelector("input[name=name]").value.trim()) {
        say("Give the passkey a name first.");
        return;
      }
      say("Follow your browser's instructions to create the passkey.");
      fetchOptions(register).then(function (options) {
        return navigator.credentials.create({
          publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options)
        });
      }).then(function (credential) { send(register, credential); }, explain);
    });
  } else if (register) {
    say("This browser cannot use passkeys.");
  }

  var signIn = document.getElementById("passkey-sign-in");
  if (signIn && supported()) {
    signIn.hidden = false;
    signIn.addEventListener("submit", function (event) {
      event.preventDefault();
      say("Follow your browser's instructions to use your passkey.");
      fetchOptions(signIn).then(function (options) {
        return navigator.credentials.get({
          publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options)
        });
      }).then(function (credential) { send(signIn, credential); }, explain);
    });
  }
}());
