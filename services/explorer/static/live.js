// mycoin explorer: the live parts of the race. The page reads without this script; with it,
// each event the peer sends (relayed by the explorer as Server-Sent Events) makes the race's
// live part be fetched again, rendered by the server like the rest of the page.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var status = document.getElementById("live-status");
  if (!live || !window.EventSource || !window.fetch) {
    return;
  }
  var lang = document.documentElement.getAttribute("lang") || "en";
  var src = live.getAttribute("data-src") + "?lang=" + encodeURIComponent(lang);
  var busy = false;
  var again = false;

  function show(on) {
    if (status) {
      status.textContent = status.getAttribute(on ? "data-on" : "data-off");
      status.className = on ? "on" : "off";
    }
  }

  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch(src, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html !== null) {
          // The fragment is the explorer's own HTML, every value in it escaped by the server.
          live.innerHTML = html;
          live.setAttribute("data-refreshed", String(Date.now()));
        }
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  var events = new EventSource(live.getAttribute("data-events"));
  events.onopen = function () {
    show(true);
    // Whatever happened while not connected.
    refresh();
  };
  events.onmessage = refresh;
  events.onerror = function () {
    show(false);
  };
  window.addEventListener("pagehide", function () {
    events.close();
  });
})();
