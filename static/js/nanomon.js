/* NanoMon pages: local times, live refresh, the monitor form. No build step; uses htmx
   (static/vendor/htmx.min.js) for the requests and swaps. */
(function () {
  "use strict";

  /* --- Times in the viewer's time zone -------------------------------------------------------
     The server renders times in the zone of the nanomon_tz cookie (web/middleware.py), or in
     UTC before the cookie exists. This stores the browser's zone in that cookie and, while the
     page was rendered in another zone, rewrites the <time data-local> elements here. */
  var TZ_COOKIE = "nanomon_tz";

  function browserZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (error) {
      return "";
    }
  }

  function readCookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  var zone = browserZone();
  var renderedZone = document.body.getAttribute("data-timezone") || "";
  var rewriteTimes = zone !== "" && zone !== renderedZone;
  if (zone && readCookie(TZ_COOKIE) !== zone) {
    document.cookie = TZ_COOKIE + "=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax";
  }
  var timeFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short"
  });

  function localiseTimes(root) {
    if (!rewriteTimes) {
      return;
    }
    root.querySelectorAll("time[data-local]").forEach(function (element) {
      var date = new Date(element.getAttribute("datetime"));
      if (isNaN(date.getTime())) {
        return;
      }
      var text = timeFormat.format(date);
      if (element.getAttribute("data-local") === "title") {
        element.title = text;
      } else {
        element.textContent = text;
      }
    });
    document.querySelectorAll("[data-timezone-label]").forEach(function (element) {
      element.textContent = zone;
    });
  }

  /* --- Live refresh --------------------------------------------------------------------------
     The [data-live] region re-fetches its server-rendered fragment (hx-get, on the custom
     nanomon:refresh event) every data-refresh seconds, every 60 s or more while the tab is
     hidden, at once when it shows again; a toggle pauses it (remembered per browser). */
  var PAUSE_KEY = "nanomon.live.paused";

  function remembered(key) {
    try {
      return window.localStorage.getItem(key);
    } catch (error) {
      return null;
    }
  }

  function remember(key, value) {
    try {
      window.localStorage.setItem(key, value);
    } catch (error) {
      /* private mode: the toggle still works for this page */
    }
  }

  function statuses(region) {
    var found = {};
    region.querySelectorAll("[data-monitor-id][data-status]").forEach(function (element) {
      found[element.getAttribute("data-monitor-id")] = {
        status: element.getAttribute("data-status"),
        name: element.getAttribute("data-name") || ""
      };
    });
    return found;
  }

  function announce(text) {
    var announcer = document.getElementById("announcer");
    if (announcer) {
      announcer.textContent = text;
    }
  }

  function setupLive() {
    var region = document.querySelector("[data-live]");
    if (!region) {
      return;
    }
    var seconds = parseInt(region.getAttribute("data-refresh"), 10);
    var period = (seconds > 0 ? seconds : 15) * 1000;
    var hiddenPeriod = Math.max(60000, period);
    var toggle = document.getElementById("live-toggle");
    var status = document.getElementById("live-status");
    var paused = remembered(PAUSE_KEY) === "1";
    var timer = null;
    var before = {};

    function show(text) {
      if (status) {
        status.textContent = text;
      }
    }

    function schedule() {
      window.clearTimeout(timer);
      timer = null;
      if (!paused) {
        timer = window.setTimeout(refresh, document.hidden ? hiddenPeriod : period);
      }
    }

    function refresh() {
      window.clearTimeout(timer);
      timer = null;
      before = statuses(region);
      htmx.trigger(region, "nanomon:refresh");
    }

    function render() {
      if (toggle) {
        toggle.setAttribute("aria-pressed", paused ? "true" : "false");
        toggle.textContent = paused ? "Resume live updates" : "Pause live updates";
      }
      if (paused) {
        show("Live updates paused");
      }
    }

    region.addEventListener("htmx:afterRequest", function (event) {
      if (event.detail.elt !== region) {
        return;
      }
      if (event.detail.successful) {
        var now = new Date();
        show("Updated " + now.toLocaleTimeString());
        region.setAttribute("data-updated", now.toISOString());
      } else {
        show("Live update failed; retrying");
      }
      schedule();
    });

    region.addEventListener("htmx:afterSettle", function (event) {
      if (event.detail.elt !== region) {
        return;
      }
      var after = statuses(region);
      var changes = [];
      Object.keys(after).forEach(function (id) {
        if (before[id] && before[id].status !== after[id].status) {
          changes.push(after[id].name + " is now " + after[id].status);
        }
      });
      if (changes.length) {
        announce(changes.slice(0, 5).join(". ") + (changes.length > 5 ? ". And " + (changes.length - 5) + " more." : "."));
      }
    });

    if (toggle) {
      toggle.addEventListener("click", function () {
        paused = !paused;
        remember(PAUSE_KEY, paused ? "1" : "0");
        render();
        if (paused) {
          window.clearTimeout(timer);
        } else {
          refresh();
        }
      });
    }

    document.addEventListener("visibilitychange", function () {
      if (paused) {
        return;
      }
      if (document.hidden) {
        schedule();
      } else {
        refresh();
      }
    });

    render();
    schedule();
  }

  /* --- The monitor form: properties and outputs per type, rule examples ---------------------- */
  function setupMonitorForm() {
    var form = document.querySelector("[data-monitor-form]");
    if (!form) {
      return;
    }
    var kind = form.querySelector("select[name=kind]");
    var rule = form.querySelector("textarea[name=rule]");

    function showKind() {
      form.querySelectorAll("[data-kind-section]").forEach(function (section) {
        section.hidden = section.getAttribute("data-kind-section") !== kind.value;
      });
    }

    if (kind) {
      kind.addEventListener("change", function () {
        showKind();
        if (rule) {
          htmx.trigger(rule, "nanomon:rule-check");
        }
      });
      showKind();
    }
    form.querySelectorAll("[data-rule-example]").forEach(function (button) {
      button.addEventListener("click", function () {
        if (!rule) {
          return;
        }
        rule.value = button.getAttribute("data-rule-example");
        rule.focus();
        htmx.trigger(rule, "nanomon:rule-check");
      });
    });
    var summary = document.getElementById("error-summary");
    if (summary) {
      summary.focus();
    }
  }

  htmx.onLoad(localiseTimes);
  setupLive();
  setupMonitorForm();
})();
