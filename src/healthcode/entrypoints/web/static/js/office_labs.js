// Lab import: show the upload's progress while htmx sends the file, then "checking" until the
// server answers. A refused file (4xx) is swapped in too: it lists the rows to correct.
(function () {
  "use strict";
  var form = document.getElementById("lab-form");
  if (!form) { return; }
  var box = document.getElementById("lab-progress");
  var bar = document.getElementById("lab-progress-bar");
  var text = document.getElementById("lab-progress-text");
  var checking = document.getElementById("lab-progress-checking");

  function show(percent) {
    bar.value = percent;
    bar.textContent = percent + "%";
    text.textContent = percent + "%";
  }

  form.addEventListener("htmx:beforeRequest", function () {
    box.hidden = false;
    checking.hidden = true;
    show(0);
  });
  form.addEventListener("htmx:xhr:progress", function (event) {
    var d = event.detail;
    if (d && d.lengthComputable && d.total > 0) {
      var percent = Math.round((d.loaded / d.total) * 100);
      show(percent);
      if (percent >= 100) { checking.hidden = false; }
    }
  });
  form.addEventListener("htmx:afterRequest", function () {
    box.hidden = true;
    var result = document.getElementById("lab-result");
    if (result) {
      result.setAttribute("tabindex", "-1");
      result.focus();
    }
  });
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (event.detail.target.id === "lab-result" && status >= 400 && status < 500) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
