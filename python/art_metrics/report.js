// Draws the charts of an art-metrics report as SVG. No dependencies, no network.
// Long series are downsampled for drawing only (min/max per pixel column); the hover reads the
// embedded data, so it always shows exact values. A series longer than the report's point
// budget arrives already cut (each bucket's first, lowest, highest, last) with `sampledFrom`,
// and its chart says so. window.artReport exposes what the tests check.
// Names (keys, splits, sources) come from the run: they are only ever set as text or as
// attribute values (textContent, setAttribute), never parsed as HTML.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var W = 600, H = 290, M = { l: 66, r: 14, t: 12, b: 42 };
  var PW = W - M.l - M.r, PH = H - M.t - M.b;
  var COLORS = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2",
    "#ca8a04", "#db2777", "#4b5563", "#65a30d", "#7c3aed", "#0d9488"];
  var MARKERS_UP_TO = 60;  // points per series drawn as dots below this
  var started = performance.now();
  var charts = JSON.parse(document.getElementById("report-data").textContent);
  var tooltip = document.getElementById("tooltip");
  var api = { charts: {} };

  // Control characters as \xNN, bidi controls, U+2028/U+2029 and lone surrogates as \uNNNN
  // (summary.escape_controls): a name shown can't hide or reorder the text around it.
  var CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]/gu;
  function shown(name) {
    return String(name).replace(CONTROLS, function (c) {
      var code = c.charCodeAt(0);
      return code < 0x100 ? "\\x" + ("0" + code.toString(16)).slice(-2) : "\\u" + ("000" + code.toString(16)).slice(-4);
    });
  }

  // A legend or tooltip entry's content: the series' colour swatch and its name, isolated
  // (<bdi>) so right-to-left text in a name can't reorder the value beside it.
  function swatchAndName(parent, s) {
    var swatch = document.createElement("i");
    swatch.style.background = s.color;
    parent.appendChild(swatch);
    var name = document.createElement("bdi");
    name.textContent = shown(s.name);
    parent.appendChild(name);
  }

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }

  function fmt(v, money) {
    if (v === null || v === undefined) return "-";
    var a = Math.abs(v), s;
    if (a >= 1000) s = (money && a < 1e5 ? v.toFixed(2) : Math.round(v).toString())
      .replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    else if (a >= 100) s = money ? v.toFixed(2) : String(Number(v.toFixed(1)));
    else s = String(Number(v.toPrecision(4)));
    return money ? (v < 0 ? "-$" + s.replace("-", "") : "$" + s) : s;
  }

  function ticks(lo, hi, count) {
    var span = hi - lo, step = Math.pow(10, Math.floor(Math.log10(span / count)));
    var err = count / span * step;
    if (err <= 0.15) step *= 10; else if (err <= 0.35) step *= 5; else if (err <= 0.75) step *= 2;
    var out = [], first = Math.ceil(lo / step) * step;
    for (var t = first; t <= hi + step * 1e-9; t += step) out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
    return out;
  }

  function lowerBound(xs, x) {  // first index with xs[i] >= x
    var lo = 0, hi = xs.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (xs[mid] < x) lo = mid + 1; else hi = mid; }
    return lo;
  }

  // Vertices to draw for the points (px, py): all of them when few, else per pixel column the
  // first, lowest, highest and last point (the line looks the same, extremes kept).
  function downsample(px, py) {
    var n = px.length;
    if (n <= 2 * PW) return { x: px, y: py };
    var ox = [], oy = [], i = 0;
    while (i < n) {
      var col = Math.floor(px[i]), j = i, lo = i, hi = i;
      while (j < n && Math.floor(px[j]) === col) {
        if (py[j] < py[lo]) lo = j;
        if (py[j] > py[hi]) hi = j;
        j++;
      }
      var keep = [i, lo, hi, j - 1].sort(function (a, b) { return a - b; });
      for (var k = 0; k < 4; k++) if (k === 0 || keep[k] !== keep[k - 1]) { ox.push(px[keep[k]]); oy.push(py[keep[k]]); }
      i = j;
    }
    return { x: ox, y: oy };
  }

  function pathOf(xs, ys) {
    var d = [];
    for (var i = 0; i < xs.length; i++) d.push((i ? "L" : "M") + xs[i].toFixed(1) + "," + ys[i].toFixed(1));
    return d.join("");
  }

  function draw(chart, index) {
    var figure = document.createElement("figure");
    figure.className = "chart";
    figure.id = "chart-" + chart.id;
    var caption = document.createElement("figcaption");
    caption.textContent = chart.title;
    figure.appendChild(caption);
    document.getElementById("charts").appendChild(figure);

    var series = chart.series.map(function (s, i) {
      var ys = s.y, n = 0;
      for (var k = 0; k < ys.length; k++) if (ys[k] !== null) n++;
      return { name: s.name, x: s.x, y: ys, steps: s.steps || null, color: COLORS[i % COLORS.length], points: n,
        sampledFrom: s.sampledFrom || null };
    });
    // A long series arrives cut for drawing (the report's point budget): say so.
    var cut = series.filter(function (s) { return s.sampledFrom; });
    if (cut.length) {
      var kept = Math.max.apply(null, cut.map(function (s) { return s.x.length; }));
      var from = Math.max.apply(null, cut.map(function (s) { return s.sampledFrom; }));
      var note = document.createElement("p");
      note.className = "sampled";
      note.textContent = "Drawn from at most " + kept.toLocaleString("en-US") + " of " +
        from.toLocaleString("en-US") + " points per series: each bucket's first, lowest, " +
        "highest and last (exact values).";
      figure.appendChild(note);
    }
    // Stacked layers: each one's base and top, missing values counting as zero.
    if (chart.stacked) {
      var base = new Float64Array(series[0].x.length);
      series.forEach(function (s) {
        s.base = Float64Array.from(base);
        s.top = new Float64Array(base.length);
        for (var i = 0; i < base.length; i++) { s.top[i] = base[i] + (s.y[i] || 0); base[i] = s.top[i]; }
      });
    }
    var xlo = Infinity, xhi = -Infinity, ylo = Infinity, yhi = -Infinity;
    series.forEach(function (s) {
      if (s.x.length) { xlo = Math.min(xlo, s.x[0]); xhi = Math.max(xhi, s.x[s.x.length - 1]); }
      var ys = chart.stacked ? s.top : s.y;
      for (var i = 0; i < ys.length; i++) if (ys[i] !== null) { if (ys[i] < ylo) ylo = ys[i]; if (ys[i] > yhi) yhi = ys[i]; }
    });
    if (chart.budget !== null) { ylo = Math.min(ylo, chart.budget); yhi = Math.max(yhi, chart.budget); }
    if (chart.fromZero && ylo > 0) ylo = 0;
    if (xhi <= xlo) { xlo -= 1; xhi += 1; }
    if (yhi <= ylo) { var pad0 = Math.abs(yhi) * 0.1 || 1; ylo -= pad0; yhi += pad0; }
    var pad = (yhi - ylo) * 0.05; yhi += pad; if (!(ylo === 0 && chart.fromZero)) ylo -= pad;
    function sx(x) { return M.l + (x - xlo) / (xhi - xlo) * PW; }
    function sy(y) { return M.t + (1 - (y - ylo) / (yhi - ylo)) * PH; }

    var svg = el("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": chart.title }, figure);
    var axes = el("g", { "class": "axes" }, svg);
    ticks(ylo, yhi, 5).forEach(function (t) {
      el("line", { x1: M.l, x2: M.l + PW, y1: sy(t), y2: sy(t), "class": "grid" }, axes);
      el("text", { x: M.l - 6, y: sy(t) + 4, "text-anchor": "end" }, axes).textContent = fmt(t, chart.money);
    });
    ticks(xlo, xhi, 6).filter(function (t) { return chart.xMoney || t === Math.round(t); }).forEach(function (t) {
      el("line", { x1: sx(t), x2: sx(t), y1: M.t + PH, y2: M.t + PH + 4, "class": "tick" }, axes);
      el("text", { x: sx(t), y: M.t + PH + 17, "text-anchor": "middle" }, axes).textContent = fmt(t, chart.xMoney);
    });
    el("rect", { x: M.l, y: M.t, width: PW, height: PH, "class": "frame" }, axes);
    el("text", { x: M.l + PW / 2, y: H - 6, "text-anchor": "middle", "class": "label" }, axes).textContent = chart.xLabel;
    el("text", { x: 14, y: M.t + PH / 2, "text-anchor": "middle", "class": "label", transform: "rotate(-90 14 " + (M.t + PH / 2) + ")" }, axes).textContent = chart.yLabel;

    var plot = el("g", { "class": "plot" }, svg);
    series.forEach(function (s, si) {
      var px = [], py = [], idx = [];
      for (var i = 0; i < s.x.length; i++) {
        if (s.y[i] === null) continue;
        var v = chart.stacked ? s.top[i] : s.y[i];
        px.push(sx(s.x[i])); py.push(sy(v)); idx.push(i);
      }
      var top = downsample(px, py);
      s.drawn = top.x.length;
      if (chart.stacked) {
        var bx = [], by = [];
        for (var j = 0; j < s.x.length; j++) { bx.push(sx(s.x[j])); by.push(sy(s.base[j])); }
        var allTop = [], k;
        for (k = 0; k < s.x.length; k++) allTop.push(sy(s.top[k]));
        var upper = downsample(bx, allTop), lower = downsample(bx, by);
        var d = pathOf(upper.x, upper.y) + pathOf(lower.x.slice().reverse(), lower.y.slice().reverse()).replace("M", "L") + "Z";
        el("path", { d: d, fill: s.color, "fill-opacity": 0.55, stroke: s.color, "stroke-width": 1, "class": "area", "data-series": s.name }, plot);
      } else {
        el("path", { d: pathOf(top.x, top.y), fill: "none", stroke: s.color, "stroke-width": 1.6, "class": "line", "data-series": s.name, "data-vertices": top.x.length }, plot);
      }
      if (s.points <= MARKERS_UP_TO) {
        for (var m = 0; m < px.length; m++) el("circle", { cx: px[m], cy: py[m], r: 2.6, fill: s.color, "class": "pt", "data-series": s.name, "data-index": idx[m] }, plot);
      }
    });
    if (chart.budget !== null) {
      el("line", { x1: M.l, x2: M.l + PW, y1: sy(chart.budget), y2: sy(chart.budget), "class": "budget" }, plot);
      el("text", { x: M.l + PW - 4, y: sy(chart.budget) - 5, "text-anchor": "end", "class": "budget-label" }, plot).textContent = "budget " + fmt(chart.budget, true);
    }

    var legend = document.createElement("div");
    legend.className = "legend";
    series.forEach(function (s) {
      var item = document.createElement("span");
      item.setAttribute("data-series", s.name);
      swatchAndName(item, s);
      legend.appendChild(item);
    });
    figure.appendChild(legend);

    var guide = el("line", { y1: M.t, y2: M.t + PH, "class": "guide", visibility: "hidden" }, svg);
    var dots = el("g", {}, svg);
    var overlay = el("rect", { x: M.l, y: M.t, width: PW, height: PH, "class": "overlay" }, svg);

    // The points nearest to pixel column px: the series' point closest in x, and every other
    // series' point at that same x.
    function hover(px) {
      var best = null, bestDist = Infinity;
      series.forEach(function (s) {
        var x = xlo + (px - M.l) / PW * (xhi - xlo);
        var i = lowerBound(s.x, x);
        [i - 1, i].forEach(function (j) {
          // Step back/forward over missing values (stacked layers).
          if (j < 0 || j >= s.x.length) return;
          if (s.y[j] === null) return;
          var dist = Math.abs(sx(s.x[j]) - px);
          if (dist < bestDist) { bestDist = dist; best = { x: s.x[j], steps: s.steps ? s.steps[j] : null }; }
        });
      });
      if (best === null) return null;
      var rows = [];
      series.forEach(function (s) {
        var j = lowerBound(s.x, best.x);
        if (j < s.x.length && s.x[j] === best.x && s.y[j] !== null) rows.push({ s: s, i: j });
      });
      return { x: best.x, step: best.steps, rows: rows };
    }

    function show(event) {
      var box = svg.getBoundingClientRect();
      var found = hover(event.clientX - box.left);
      if (!found) return hide();
      var title = document.createElement("div");
      title.className = "title";
      title.textContent = chart.xMoney ? fmt(found.x, true) + " · step " + found.step : "step " + found.x;
      tooltip.replaceChildren(title);
      while (dots.firstChild) dots.removeChild(dots.firstChild);
      found.rows.forEach(function (r) {
        var v = r.s.y[r.i];
        var row = document.createElement("div");
        row.className = "row";
        row.setAttribute("data-series", r.s.name);
        row.setAttribute("data-value", String(v));
        swatchAndName(row, r.s);
        row.appendChild(document.createTextNode(" "));
        row.appendChild(document.createElement("b")).textContent = fmt(v, chart.money);
        tooltip.appendChild(row);
        el("circle", { cx: sx(found.x), cy: sy(chart.stacked ? r.s.top[r.i] : v), r: 4.5, fill: r.s.color, "class": "hover-dot" }, dots);
      });
      tooltip.hidden = false;
      tooltip.dataset.chart = chart.id;
      var left = event.clientX + 14;
      if (left + tooltip.offsetWidth > window.innerWidth - 4) left = event.clientX - 14 - tooltip.offsetWidth;
      tooltip.style.left = left + "px";
      tooltip.style.top = (event.clientY + 12) + "px";
      guide.setAttribute("x1", sx(found.x)); guide.setAttribute("x2", sx(found.x));
      guide.setAttribute("visibility", "visible");
    }
    function hide() {
      tooltip.hidden = true;
      guide.setAttribute("visibility", "hidden");
      while (dots.firstChild) dots.removeChild(dots.firstChild);
    }
    overlay.addEventListener("mousemove", show);
    overlay.addEventListener("mouseleave", hide);

    api.charts[chart.id] = {
      title: chart.title,
      series: series.map(function (s) { return { name: s.name, points: s.points, drawn: s.drawn, sampledFrom: s.sampledFrom }; }),
      // Where point i of series si is on the page (client coordinates).
      point: function (si, i) {
        var s = series[si], box = svg.getBoundingClientRect();
        var v = chart.stacked ? s.top[i] : s.y[i];
        return { x: box.left + sx(s.x[i]), y: box.top + sy(v) };
      }
    };
  }

  charts.forEach(draw);
  api.renderMs = performance.now() - started;
  window.artReport = api;
})();
