(function () {
  "use strict";
  var status = document.getElementById("js-status");
  function fail(msg) {
    status.setAttribute("data-state", "error");
    status.textContent = "report script error: " + msg;
    document.title = "JS ERROR: " + msg;
  }
  window.addEventListener("error", function (e) { fail(e.message || "unknown error"); });
  try {
    var data = JSON.parse(document.getElementById("report-data").textContent);
    var rank = {};
    data.verdicts.forEach(function (v, i) { rank[v] = i; });
    var passing = {};
    data.passing.forEach(function (v) { passing[v] = true; });
    var $ = function (id) { return document.getElementById(id); };
    var all = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };
    var ctl = { family: $("f-family"), "function": $("f-function"), dtype: $("f-dtype"), verdict: $("f-verdict"),
                text: $("f-text"), sort: $("f-sort") };
    function state() {
      return { family: ctl.family.value, "function": ctl["function"].value, dtype: ctl.dtype.value,
               verdict: ctl.verdict.value, text: ctl.text.value.trim().toLowerCase() };
    }
    function verdictOk(list, want) {
      if (!want) return true;
      for (var i = 0; i < list.length; i++) {
        var v = list[i];
        if (!v) continue;
        if (want === "@failing" ? !passing[v] : v === want) return true;
      }
      return false;
    }
    function attrOk(el, s) {
      var d = el.dataset;
      if (s.family && d.family !== undefined && d.family !== s.family) return false;
      if (s["function"] && d["function"] !== undefined && d["function"] !== s["function"]) return false;
      if (s.dtype && d.dtype !== undefined && d.dtype.split(" ").indexOf(s.dtype) < 0) return false;
      if (s.text && d.text !== undefined && d.text.indexOf(s.text) < 0) return false;
      if (s.verdict && d.verdicts !== undefined && !verdictOk(d.verdicts.split(" "), s.verdict)) return false;
      return true;
    }
    function show(el, on) { el.classList.toggle("hidden", !on); }
    function apply() {
      var s = state();
      // matrix: rows by family/text/verdict (of the visible dtypes), columns by dtype
      all("#matrix-table tr.mrow").forEach(function (tr) {
        var vs = tr.dataset.vd.trim().split(" ").filter(Boolean).map(function (p) { return p.split("="); })
          .filter(function (p) { return !s.dtype || p[0] === s.dtype; }).map(function (p) { return p[1]; });
        var unavailable = !tr.querySelector("td.cell") && !!tr.querySelector("td.unavail");
        if (unavailable) vs = ["unavailable"];
        var ran = unavailable || !s.dtype || vs.some(function (v) { return !!v; });
        show(tr, ran && attrOk(tr, {family: s.family, text: s.text}) && verdictOk(vs, s.verdict));
      });
      all(".fcol").forEach(function (el) { show(el, !s.dtype || el.dataset.dtype === s.dtype); });
      all(".flt").forEach(function (el) { show(el, attrOk(el, s)); });
      all("tbody.fgroup").forEach(function (tb) {
        var okFn = !s["function"] || tb.dataset["function"] === s["function"];
        var any = tb.querySelector("tr.mrow:not(.hidden), tr.flt:not(.hidden)");
        show(tb, okFn && !!any);
      });
      all(".fimp").forEach(function (el) { show(el, attrOk(el, {family: s.family, text: s.text})); });
      summarise(s);
    }
    function summarise(s) {
      var counts = {}, rows = 0, cells = 0;
      data.rows.forEach(function (r) {
        if (s.family && r.family !== s.family) return;
        if (s["function"] && r["function"] !== s["function"]) return;
        if (s.text && (r.impl + (r.env ? " @ " + r.env : "")).toLowerCase().indexOf(s.text) < 0) return;
        var hit = false;
        Object.keys(r.cells).forEach(function (d) {
          if (s.dtype && d !== s.dtype) return;
          var v = r.cells[d].v;
          if (!v || !verdictOk([v], s.verdict)) return;
          counts[v] = (counts[v] || 0) + 1; cells++; hit = true;
        });
        if (hit) rows++;
      });
      var parts = Object.keys(counts).sort(function (a, b) { return rank[a] - rank[b]; })
        .map(function (v) { return v + " " + counts[v]; });
      $("sel-summary").textContent = "selection: " + rows + " implementation(s), " + cells + " cell(s)" +
        (parts.length ? " — " + parts.join(", ") : "");
    }
    function sortMatrix() {
      var key = ctl.sort.value;
      all("#matrix-table tbody.fgroup").forEach(function (tb) {
        var trs = all("tr.mrow", tb);
        trs.sort(function (a, b) {
          if (key === "worst") {
            var d = (rank[b.dataset.worst] || 0) - (rank[a.dataset.worst] || 0);
            if (d) return d;
          } else if (key === "ulp") {
            var u = parseFloat(b.dataset.ulp) - parseFloat(a.dataset.ulp);
            if (u) return u;
          }
          return a.dataset.name < b.dataset.name ? -1 : a.dataset.name > b.dataset.name ? 1 : 0;
        });
        trs.forEach(function (tr) { tb.appendChild(tr); });
      });
    }
    function sortable(table) {
      var ths = all("thead th", table);
      ths.forEach(function (th, col) {
        if (!th.classList.contains("sort")) return;
        th.addEventListener("click", function () {
          var dir = th.dataset.dir === "asc" ? "desc" : "asc";
          ths.forEach(function (o) { delete o.dataset.dir; });
          th.dataset.dir = dir;
          all("tbody", table).forEach(function (tb) {
            var trs = all("tr", tb).filter(function (tr) { return !tr.classList.contains("nosort"); });
            trs.sort(function (a, b) {
              var x = a.children[col], y = b.children[col];
              if (!x || !y) return 0;
              var sx = x.dataset.s !== undefined ? x.dataset.s : x.textContent.trim();
              var sy = y.dataset.s !== undefined ? y.dataset.s : y.textContent.trim();
              var nx = parseFloat(sx), ny = parseFloat(sy), c;
              if (!isNaN(nx) && !isNaN(ny) && String(nx) !== "NaN") c = nx - ny; else c = sx < sy ? -1 : sx > sy ? 1 : 0;
              return dir === "asc" ? c : -c;
            });
            trs.forEach(function (tr) { tb.appendChild(tr); });
          });
        });
      });
    }
    all("table.sortable").forEach(sortable);
    ["family", "function", "dtype", "verdict", "text"].forEach(function (k) {
      ctl[k].addEventListener(k === "text" ? "input" : "change", apply);
    });
    ctl.sort.addEventListener("change", sortMatrix);
    $("f-fsort").addEventListener("change", function () {
      var key = this.value;
      ["failure-list", "more-new-list", "known-list"].forEach(function (id) {
        var box = $(id), arts = box ? all("article.failure", box) : [];
        arts.sort(function (a, b) {
          if (key === "rank") return a.dataset.i - b.dataset.i;
          if (key === "ulp") { var u = parseFloat(b.dataset.ulp) - parseFloat(a.dataset.ulp); if (u) return u; }
          return a.dataset.name < b.dataset.name ? -1 : a.dataset.name > b.dataset.name ? 1 : 0;
        });
        arts.forEach(function (x) { box.appendChild(x); });
      });
    });
    $("f-reset").addEventListener("click", function () {
      ["family", "function", "dtype", "verdict", "text"].forEach(function (k) { ctl[k].value = ""; });
      apply();
    });
    // following a link to a hidden failure clears the filters
    window.addEventListener("hashchange", function () {
      var t = document.getElementById(location.hash.slice(1));
      if (t && t.closest(".hidden")) { $("f-reset").click(); t.scrollIntoView(); }
      if (t && t.tagName === "ARTICLE") { var d = t.querySelector("details"); if (d) d.open = true; }
    });
    all("button.copy").forEach(function (b) {
      b.addEventListener("click", function () {
        var text = $(b.dataset.copy).textContent;
        if (navigator.clipboard) navigator.clipboard.writeText(text).then(function () { b.textContent = "copied"; },
          function () { b.textContent = "select and copy"; });
      });
    });
    // a link may carry filters: index.html#f:function=softmax&verdict=@failing
    if (location.hash.indexOf("#f:") === 0) {
      location.hash.slice(3).split("&").forEach(function (kv) {
        var p = kv.split("="), k = decodeURIComponent(p[0]), v = decodeURIComponent(p[1] || "");
        if (ctl[k] && k !== "sort") ctl[k].value = v;
      });
    }
    apply();
    // anchors land below the sticky filter bar (CSS scroll-margin-top reads --bar), and a jump opens
    // the collapsed card or section it lands in
    function barHeight() {
      document.documentElement.style.setProperty("--bar", $("controls").offsetHeight + "px");
    }
    function openTarget() {
      var el = location.hash.length > 1 && location.hash.indexOf("#f:") !== 0 ?
        document.getElementById(decodeURIComponent(location.hash.slice(1))) : null;
      if (!el) return;
      for (var p = el; p; p = p.parentElement) if (p.tagName === "DETAILS") p.open = true;
      if (el.tagName === "DETAILS") el.open = true;
      var d = el.tagName === "ARTICLE" ? el.querySelector(":scope > details") : null;  // a failure card
      if (d) d.open = true;
      el.scrollIntoView();
    }
    barHeight();
    window.addEventListener("resize", barHeight);
    window.addEventListener("hashchange", openTarget);
    openTarget();
    status.setAttribute("data-state", "ok");
    document.documentElement.setAttribute("data-js", "ok");
  } catch (e) {
    fail(e && e.message ? e.message : String(e));
  }
})();
