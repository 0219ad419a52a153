// Photos sent from a phone can take a while to arrive: once a form with photos chosen is
// sent, a status beside its button says what is being sent, so nobody leaves the page or
// sends it again thinking nothing happened. (A second tap is harmless: the server answers
// it as the first.)
(function () {
  "use strict";
  function chosenFiles(form) {
    var files = [];
    form.querySelectorAll("input[type=file]").forEach(function (input) {
      Array.prototype.push.apply(files, input.files || []);
    });
    return files;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var files = chosenFiles(form);
    if (!files.length) { return; }
    var bytes = files.reduce(function (sum, file) { return sum + file.size; }, 0);
    var status = form.querySelector(".upload-status");
    if (!status) {
      status = document.createElement("p");
      status.className = "upload-status";
      status.setAttribute("role", "status");
      var button = event.submitter || form.querySelector("[type=submit]");
      button.insertAdjacentElement("afterend", status);
    }
    var what = files.length === 1 ? "1 photo" : files.length + " photos";
    status.textContent = "Sending " + what + " (" + (bytes / 1048576).toFixed(1) +
      " MB): please keep this page open until it is saved.";
  });
}());
