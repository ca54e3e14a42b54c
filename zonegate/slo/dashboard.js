// zonegate SLO dashboard: refresh the page's <main> in place every few seconds.
(function () {
  "use strict";
  var script = document.currentScript;
  var seconds = Number((script && script.dataset.refresh) || 10);
  if (!(seconds > 0)) { return; }
  function refresh() {
    fetch(window.location.href, { headers: { "X-Refresh": "1" }, cache: "no-store" })
      .then(function (resp) { return resp.ok ? resp.text() : null; })
      .then(function (text) {
        if (!text) { return; }
        var doc = new DOMParser().parseFromString(text, "text/html");
        var fresh = doc.querySelector("main");
        var current = document.querySelector("main");
        if (fresh && current) {
          current.replaceWith(fresh);
          document.body.setAttribute("data-refreshed", String(Date.now()));
        }
      })
      .catch(function () { /* the engine restarts: try again next time */ });
  }
  window.setInterval(refresh, seconds * 1000);
})();
