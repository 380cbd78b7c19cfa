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

  // The edges of the data behind a drawn edge: itself, or those a closed cluster merged.
  var edgeById = {};
  data.edges.forEach(function (e) { edgeById[e.id] = e; });
  function baseEdges(id) {
    if (edgeById[id]) { return [edgeById[id]]; }
    return network.clustering.getBaseEdges(id)
      .map(function (b) { return edgeById[b]; })
      .filter(function (e) { return e !== undefined; });
  }

  // Clusters: one node per cluster of addresses; double-click opens it.
  var clusterOf = {};
  data.clusters.forEach(function (c) {
    c.members.forEach(function (m) { clusterOf[m] = c; });
  });
  function closeCluster(c) {
    var first = nodes.get(c.members[0]);
    // Drawn at the member nearest the members' centre: the centre itself can fall on another
    // address of the same column, which the cluster would then hide.
    var placed = c.members.map(function (m) { return nodes.get(m); });
    var cx = 0;
    var cy = 0;
    placed.forEach(function (n) { cx += n.x / placed.length; cy += n.y / placed.length; });
    var anchor = placed.reduce(function (best, n) {
      var d = (n.x - cx) * (n.x - cx) + (n.y - cy) * (n.y - cy);
      var b = (best.x - cx) * (best.x - cx) + (best.y - cy) * (best.y - cy);
      return d < b ? n : best;
    });
    network.cluster({
      joinCondition: function (n) { return n.cluster === c.key; },
      clusterNodeProperties: {
        id: c.id,
        x: anchor.x,
        y: anchor.y,
        label: c.label,
        title: tip(c.tip),
        shape: "database",
        color: { background: c.colour || first.color.background, border: "#222222" },
        borderWidth: 3,
        font: { size: 12, face: "sans-serif", color: c.colour ? "#ffffff" : "#343434" },
        category: first.category
      }
    });
  }
  data.clusters.forEach(closeCluster);
  // Clusters opened so far (vis-network's isCluster logs an error for an opened one).
  var opened = {};
  var clusterIds = {};
  data.clusters.forEach(function (c) { clusterIds[c.id] = true; });
  function isClosed(id) { return clusterIds[id] === true && opened[id] !== true; }

  // vis-network draws all edges between a closed cluster and one address as a single edge
  // with the label, width and tooltip of the first of them. Relabel each such edge with the
  // sum of what it stands for (exact, per asset, rounded to 4 decimals for reading as the
  // other labels are), its width with the summed share, its tooltip with every edge's lines.
  function shortText(text) {
    return text.length > 14 ? text.slice(0, 6) + "…" + text.slice(-4) : text;
  }
  function readable(value, decimals) {
    var scale = BigInt(10) ** BigInt(decimals || 0);
    if (value !== BigInt(0) && value * BigInt(10000) < scale) { return "<0.0001"; }
    var units = (value * BigInt(10000) + scale / BigInt(2)) / scale;
    var fraction = (units % BigInt(10000)).toString().padStart(4, "0").replace(/0+$/, "");
    var whole = (units / BigInt(10000)).toLocaleString("en-US");
    return fraction ? whole + "." + fraction : whole;
  }
  function amounts(list) {
    // "95 ETH ×2 + 1,000 VUSD": exact sums per asset, rounded for reading; an asset is
    // named as on its edges' labels (a token's symbol, or its shortened contract).
    var byAsset = {};
    list.forEach(function (e) {
      var a = byAsset[e.asset] ||
        { value: BigInt(0), decimals: e.decimals, transfers: 0, tag: e.tag || shortText(e.asset) };
      a.value += BigInt(e.tainted);
      a.transfers += e.transfers;
      byAsset[e.asset] = a;
    });
    // The chain's native asset (a symbol) before tokens (contract addresses), then by name.
    var order = Object.keys(byAsset).sort(function (x, y) {
      var tx = x.indexOf("0x") === 0;
      var ty = y.indexOf("0x") === 0;
      return tx !== ty ? (tx ? 1 : -1) : (x < y ? -1 : (x > y ? 1 : 0));
    });
    return order.map(function (asset) {
      var a = byAsset[asset];
      var text = readable(a.value, a.decimals) + " " + a.tag;
      return a.transfers > 1 ? text + " \u00d7" + a.transfers : text;
    }).join(" + ");
  }
  function mergedEdge(id, base) {
    // vis-network also merges the edges of the opposite direction into the one it draws:
    // those are said apart ("back") and the edge gets an arrow at both ends.
    var drawnTo = network.getConnectedNodes(id)[1];
    var along = base.filter(function (e) { return network.findNode(e.to)[0] === drawnTo; });
    var back = base.filter(function (e) { return along.indexOf(e) === -1; });
    var label = amounts(along);
    if (back.length > 0) { label = (label ? label + " \u21c4 " : "") + amounts(back) + " back"; }
    var shares = {};
    base.forEach(function (e) { shares[e.asset] = (shares[e.asset] || 0) + e.share; });
    var share = Math.min(1, Math.max.apply(null, Object.keys(shares).map(function (a) {
      return shares[a];
    })));
    var box = document.createElement("div");
    base.forEach(function (e) { box.appendChild(tip(e.tip)); });
    return {
      label: label,
      width: Math.round((1 + 9 * Math.sqrt(share)) * 100) / 100,
      title: box,
      arrows: { to: { enabled: along.length > 0 }, from: { enabled: back.length > 0 } }
    };
  }
  function relabelClusterEdges() {
    data.clusters.forEach(function (c) {
      if (!isClosed(c.id)) { return; }
      network.getConnectedEdges(c.id).forEach(function (id) {
        var base = baseEdges(id);
        if (base.length > 1) { network.clustering.updateEdge(id, mergedEdge(id, base)); }
      });
    });
  }
  relabelClusterEdges();
  // Opened members go back to their laid-out places (vis-network would pile them all on the
  // cluster's position, and physics is off, so they would stay piled).
  var laidOut = {};
  data.nodes.forEach(function (n) { laidOut[n.id] = { x: n.x, y: n.y }; });
  function openCluster(id) {
    opened[id] = true;
    network.openCluster(id, {
      releaseFunction: function (clusterPosition, positions) {
        var placed = {};
        Object.keys(positions).forEach(function (m) { placed[m] = laidOut[m] || positions[m]; });
        return placed;
      }
    });
    relabelClusterEdges();  // edges between the opened addresses and other closed clusters
  }
  report.openCluster = openCluster;
  network.on("doubleClick", function (params) {
    if (params.nodes.length === 1 && isClosed(params.nodes[0])) {
      openCluster(params.nodes[0]);
    }
  });

  // Details: a click on an address, a cluster or an edge shows its tooltip's lines under the
  // graph as selectable text (tooltips vanish with the mouse), with every transaction hash.
  var nodeById = {};
  data.nodes.forEach(function (n) { nodeById[n.id] = n; });
  var clusterById = {};
  data.clusters.forEach(function (c) { clusterById[c.id] = c; });
  var details = document.getElementById("details");
  function showDetails(blocks) {
    details.replaceChildren();
    blocks.forEach(function (lines) { details.appendChild(tip(lines)); });
  }
  network.on("click", function (params) {
    if (params.nodes.length === 1) {
      var id = params.nodes[0];
      var c = clusterById[id];
      if (c && isClosed(id)) {
        var members = c.members.map(function (m) {
          var n = nodeById[m];
          return m + " · " + n.role + (n.tip[0] === m ? "" : " · " + n.tip[0]);
        });
        showDetails([c.tip.concat(members)]);
      } else if (nodeById[id]) {
        showDetails([nodeById[id].tip]);
      }
    } else if (params.edges.length === 1) {
      showDetails(baseEdges(params.edges[0]).map(function (e) { return e.tip; }));
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
    if (c && isClosed(c.id)) { openCluster(c.id); }
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
      // A label can name several addresses (an exchange's deposit addresses): add the address.
      var name = n.label.replace("\n", " ");
      var short = n.id.length > 14 ? n.id.slice(0, 6) + "…" + n.id.slice(-4) : n.id;
      if (n.role !== "group" && name.indexOf(short) === -1) { name += " " + short; }
      button.textContent = name + " (hop " + n.hop + ")";
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
