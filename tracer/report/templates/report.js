"use strict";
// tracer report: draws the hop graph from the JSON data block. Every string from the data is
// put on the page with textContent (never innerHTML), so labels and token names stay text.
(function () {
  var data = JSON.parse(document.getElementById("tracer-data").textContent);
  var report = { data: data, drawn: false, errors: [] };
  window.tracerReport = report;

  function tip(lines) {
    var box = document.createElement("div");
    box.className = "tip";
    lines.forEach(function (line, i) {
      var row = document.createElement("div");
      if (i === 0) { row.className = "tip-head"; }
      row.textContent = line;
      box.appendChild(row);
    });
    return box;
  }

  var nodeItems = data.nodes.map(function (n) {
    var item = Object.assign({}, n);
    item.title = tip(n.tip);
    delete item.tip;
    return item;
  });
  var edgeItems = data.edges.map(function (e) {
    var item = Object.assign({}, e);
    item.title = tip(e.tip);
    delete item.tip;
    return item;
  });
  var nodes = new vis.DataSet(nodeItems);
  var edges = new vis.DataSet(edgeItems);
  var container = document.getElementById("graph");
  var network = new vis.Network(container, { nodes: nodes, edges: edges }, data.options);
  report.network = network;
  report.nodes = nodes;
  report.edges = edges;

  // Clusters: one node per cluster of addresses; double-click opens it.
  var clusterOf = {};
  data.clusters.forEach(function (c) {
    c.members.forEach(function (m) { clusterOf[m] = c; });
  });
  function closeCluster(c) {
    var first = nodes.get(c.members[0]);
    network.cluster({
      joinCondition: function (n) { return n.cluster === c.key; },
      clusterNodeProperties: {
        id: c.id,
        label: c.label,
        title: tip(c.tip),
        shape: "database",
        color: { background: first.color.background, border: "#222222" },
        borderWidth: 3,
        font: { size: 12, face: "sans-serif" },
        category: first.category
      }
    });
  }
  data.clusters.forEach(closeCluster);
  network.on("doubleClick", function (params) {
    if (params.nodes.length === 1 && network.isCluster(params.nodes[0])) {
      network.openCluster(params.nodes[0]);
    }
  });

  network.once("afterDrawing", function () {
    report.drawn = true;
    report.drawnAt = performance.now();
    document.body.setAttribute("data-drawn", "1");
  });

  // Search: by address or label, case-insensitive; opens the node's cluster if needed.
  var results = document.getElementById("search-results");
  function focusNode(id) {
    var c = clusterOf[id];
    if (c && network.isCluster(c.id)) { network.openCluster(c.id); }
    network.selectNodes([id]);
    network.focus(id, { scale: 1.3, animation: false });
  }
  document.getElementById("search-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var query = document.getElementById("search").value.trim().toLowerCase();
    results.replaceChildren();
    if (!query) { return; }
    var found = data.nodes.filter(function (n) { return n.search.indexOf(query) !== -1; });
    if (found.length === 0) {
      var none = document.createElement("span");
      none.textContent = "no address or label matches";
      results.appendChild(none);
      return;
    }
    found.slice(0, 20).forEach(function (n) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = n.label.replace("\n", " ") + " (hop " + n.hop + ")";
      button.addEventListener("click", function () { focusNode(n.id); });
      results.appendChild(button);
    });
    if (found.length === 1) { focusNode(found[0].id); }
  });

  // Filters: a minimum amount (whole units, any asset) hides smaller edges; unticked
  // categories hide their nodes. A node left without a visible edge is hidden too (not seeds).
  function applyFilters() {
    var minimum = parseFloat(document.getElementById("min-value").value) || 0;
    var shown = {};
    document.querySelectorAll("input[data-category]").forEach(function (box) {
      shown[box.getAttribute("data-category")] = box.checked;
    });
    var visibleNode = {};
    data.nodes.forEach(function (n) { visibleNode[n.id] = shown[n.category] !== false; });
    var linked = {};
    var edgeUpdates = data.edges.map(function (e) {
      var visible = e.amount >= minimum && visibleNode[e.from] && visibleNode[e.to];
      if (visible) { linked[e.from] = true; linked[e.to] = true; }
      return { id: e.id, hidden: !visible };
    });
    var nodeUpdates = data.nodes.map(function (n) {
      var visible = visibleNode[n.id] && (n.role === "seed" || linked[n.id] === true);
      return { id: n.id, hidden: !visible };
    });
    edges.update(edgeUpdates);
    nodes.update(nodeUpdates);
  }
  document.getElementById("min-value").addEventListener("change", applyFilters);
  document.querySelectorAll("input[data-category]").forEach(function (box) {
    box.addEventListener("change", applyFilters);
  });
})();
