/*! linecrm web tag (docs/web-tag.md). Embed:
 *  <script>window.linecrm=window.linecrm||{q:[],track:function(){this.q.push(arguments)}};</script>
 *  <script src="https://<api>/web/tag.js" data-key="pk_…" async></script>
 * then linecrm.track("cart_updated", {value: 3200, items: [...]}) or
 * linecrm.track("purchase", {amount: 4200, order_id: "100045"}).
 */
(function (window, document) {
  "use strict";
  var PARAM = "lcv";
  var COOKIE = "_lcv";
  var MAX_AGE = 30 * 24 * 3600; // the visitor id's own lifetime is 30 days
  var script =
    document.currentScript || document.querySelector("script[data-key][src*='tag.js']");
  if (!script) return;
  var key = script.getAttribute("data-key");
  var src = new URL(script.src, window.location.href);
  var endpoint =
    script.getAttribute("data-endpoint") ||
    src.origin + src.pathname.replace(/\/web\/tag\.js$/, "") + "/events/web";

  function readCookie() {
    var found = document.cookie.match(new RegExp("(?:^|; )" + COOKIE + "=([A-Za-z0-9_-]+)"));
    return found ? found[1] : null;
  }
  function writeCookie(value, maxAge) {
    document.cookie =
      COOKIE + "=" + value + "; Max-Age=" + maxAge + "; Path=/; SameSite=Lax" +
      (window.location.protocol === "https:" ? "; Secure" : "");
  }

  // The visitor id arrives on the landing URL (?lcv=, from the auto-login or a tracked
  // link); it is kept as a first-party cookie and taken off the address bar, so it is
  // not shared along with the URL.
  var url = new URL(window.location.href);
  var visitor = url.searchParams.get(PARAM);
  if (visitor && /^[A-Za-z0-9_-]{20,256}$/.test(visitor)) {
    writeCookie(visitor, MAX_AGE);
    url.searchParams.delete(PARAM);
    if (window.history && window.history.replaceState) {
      window.history.replaceState(window.history.state, "", url.toString());
    }
  } else {
    visitor = readCookie();
  }

  function eventId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); })
      .join("");
  }

  function send(events) {
    var body = JSON.stringify({ visitor: visitor, events: events });
    return window
      .fetch(endpoint + "?key=" + encodeURIComponent(key), {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        keepalive: true,
        headers: { "Content-Type": "application/json" },
        body: body,
      })
      .then(function (response) {
        return response.json().then(function (answer) {
          if (response.status === 401 && answer.field === "visitor") {
            visitor = null; // expired or not ours: forget it
            writeCookie("", 0);
          }
          answer.status = response.status;
          return answer;
        });
      })
      .catch(function () {
        return { status: 0 }; // offline or blocked: tracking never breaks the shop's page
      });
  }

  function track(name, properties) {
    return send([{ name: name, event_id: eventId(), properties: properties || {} }]);
  }

  var queued = (window.linecrm && window.linecrm.q) || [];
  window.linecrm = {
    track: track,
    visitor: function () { return visitor; },
    ready: true,
  };
  if (script.getAttribute("data-page-view") !== "off") {
    track("page_view", {
      url: url.toString(),
      path: url.pathname,
      title: document.title,
      referrer: document.referrer,
    });
  }
  for (var i = 0; i < queued.length; i++) track.apply(null, queued[i]);
})(window, document);
