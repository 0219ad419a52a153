// A form sent back with problems opens on its error summary: focusing it scrolls it into
// view (on a phone the form may sit far below the top of the page) and has screen readers
// read it; a role="alert" that is there when the page loads is not reliably announced.
(function () {
  "use strict";
  var summary = document.querySelector(".error-summary");
  if (summary) { summary.focus(); }
}());
