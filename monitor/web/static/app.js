// Newsroom page: keep "Latest relevant" fresh without a reload.
// Polls /api/latest (same origin, allowed by connect-src 'self') and adds new articles at the top.
// Feed text is only ever set with textContent; links are http(s) only (checked here and on the server).
(function () {
  "use strict";
  var list = document.getElementById("latest");
  if (!list || !window.fetch) { return; }
  var status = document.getElementById("live-status");
  var seconds = parseInt(document.body.getAttribute("data-refresh"), 10) || 30;
  var after = parseInt(list.getAttribute("data-after"), 10) || 0;
  var keep = Math.max(list.children.length, 20);

  function httpUrl(value) {
    return typeof value === "string" && /^https?:\/\//i.test(value) ? value : null;
  }

  function text(tag, cls, value) {
    var el = document.createElement(tag);
    if (cls) { el.className = cls; }
    el.textContent = value == null ? "" : String(value);
    return el;
  }

  function item(a) {
    var li = document.createElement("li");
    li.className = "article new";
    li.setAttribute("data-id", String(a.id));
    var head = text("a", "headline", a.title);
    head.href = "/article/" + encodeURIComponent(String(a.id));
    li.appendChild(head);
    if (a.title_translated) { li.appendChild(text("span", "translation", a.title_translated)); }
    var meta = text("span", "meta", (a.outlet_name || a.outlet) + " · " + String(a.published || "").slice(0, 16).replace("T", " ") + " UTC");
    var href = httpUrl(a.href);
    if (href) {
      meta.appendChild(document.createTextNode(" · "));
      var src = text("a", "", "source");
      src.href = href;
      src.rel = "noopener noreferrer";
      src.target = "_blank";
      meta.appendChild(src);
    }
    li.appendChild(meta);
    return li;
  }

  function refresh() {
    fetch("/api/latest?after=" + after, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (data) {
        var arts = data.articles || [];
        if (arts.length) {
          var empty = list.querySelector(".none");
          if (empty) { list.removeChild(empty); }
          for (var i = arts.length - 1; i >= 0; i--) {
            list.insertBefore(item(arts[i]), list.firstChild);
            after = Math.max(after, arts[i].id);
          }
          while (list.children.length > keep) { list.removeChild(list.lastChild); }
          list.setAttribute("data-after", String(after));
        }
        if (status) { status.textContent = "live"; status.className = "live"; }
      })
      .catch(function () {
        if (status) { status.textContent = "offline, retrying"; status.className = "live off"; }
      });
  }

  window.setInterval(refresh, seconds * 1000);
})();
