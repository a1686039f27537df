// Behaviours of geo's web maps. Plain Leaflet 1.9, no other library: the page
// carries this file inline, so it opens on networks that block CDNs.

// ------------------------------------------------------------------ escaping, tooltips

// Values from users' files (names, reasons) reach tooltips and popups only escaped.
function geoEscape(value) {
  return String(value).replace(/[&<>"']/g, function (c) {
    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
  });
}
function geoTable(layer, fields, aliases) {
  return "<table>" + fields.map(function (name, k) {
    return "<tr><th>" + geoEscape(aliases[k]) + "</th><td>"
      + geoEscape(layer.feature.properties[name]) + "</td></tr>";
  }).join("") + "</table>";
}
// Tooltips wrap at 400 px (CSS .geo-tip): a long reason must not run off the screen.
function geoTooltip(group, fields, aliases) {
  if (!fields.length) return group;
  return group.bindTooltip(function (layer) {
    return geoTable(layer, fields, aliases);
  }, {sticky: true, className: "geo-tip"});
}
// The popup stays open, so long texts (reasons, sources) can be read and copied;
// it is at most 80 % of the window high and scrolls.
function geoPopup(group, fields, aliases) {
  if (!fields.length) return group;
  return group.bindPopup(function (layer) {
    return geoTable(layer, fields, aliases);
  }, {maxWidth: Math.min(420, Math.round(window.innerWidth * 0.9)),
      maxHeight: Math.round(window.innerHeight * 0.8) - 40, className: "geo-popup"});
}

// ------------------------------------------------------------------ points and hexagons

// Points and hexagons as canvas shapes built from columns: GeoJSON spends ~250
// bytes on each point or hexagon, and Leaflet's GeoJSON layer several times the
// time to build them. Each shape keeps its fields as feature.properties.
function geoPoints(data, options) {
  var group = L.featureGroup();
  for (var i = 0; i < data.x.length; i++) {
    var properties = {};
    for (var k = 0; k < data.fields.length; k++) properties[data.fields[k]] = data.values[k][i];
    var marker = L.circleMarker([data.y[i], data.x[i]], {
      radius: options.radius, stroke: false, fillOpacity: options.opacity,
      fillColor: options.colors[data.color ? data.color[i] : 0]
    });
    marker.feature = {type: "Feature", properties: properties};
    group.addLayer(marker);
  }
  return geoTooltip(group, data.fields, data.aliases);
}
// Hexagons around centres, in Web Mercator metres like the grid they come from,
// shaded by the count of firms: options.bins are the lower bounds of the shades.
function geoHexagons(data, options) {
  var group = L.featureGroup(), crs = L.CRS.EPSG3857;
  for (var i = 0; i < data.x.length; i++) {
    var centre = crs.project(L.latLng(data.y[i], data.x[i])), ring = [], shade = 0;
    for (var k = 0; k < 6; k++) {
      var angle = Math.PI / 180 * (30 + 60 * k);
      ring.push(crs.unproject(L.point(centre.x + options.radius * Math.cos(angle),
                                      centre.y + options.radius * Math.sin(angle))));
    }
    while (shade + 1 < options.bins.length && data.n[i] >= options.bins[shade + 1]) shade++;
    var hexagon = L.polygon(ring, {
      color: options.color, weight: 0.5, fillColor: options.color,
      fillOpacity: options.opacities[shade]
    });
    hexagon.feature = {type: "Feature", properties: {n_firms: data.n[i]}};
    group.addLayer(hexagon);
  }
  return geoTooltip(group, ["n_firms"], [options.alias]);
}
// Firms at city scale: one layer of hexagons shaded by the count of the firms of
// the classes switched on (thirty thousand dots of nine colours over a city are
// a smear); from options.zoom on, each class's points instead. options.zoom is
// null when the points are too many to draw: the hexagons stay at every zoom.
function geoFirms(map, groups, data, options) {
  var density = L.featureGroup().addTo(map), near = {}, hexagons = data.hexagons;
  var classes = groups.map(function (group, k) {
    return {group: group, points: data.classes[k].points, options: data.classes[k].options};
  });
  function update() {
    var close = options.zoom !== null && map.getZoom() >= options.zoom;
    density.clearLayers();
    var n = hexagons.x.map(function () { return 0; });
    classes.forEach(function (entry, k) {
      var on = map.hasLayer(entry.group);
      if (close && on && !near[k]) near[k] = geoPoints(entry.points, entry.options);
      if (near[k]) {
        if (close && !entry.group.hasLayer(near[k])) entry.group.addLayer(near[k]);
        if (!close && entry.group.hasLayer(near[k])) entry.group.removeLayer(near[k]);
      }
      if (on && !close) {
        hexagons.counts[k].forEach(function (count, i) { n[i] += count; });
      }
    });
    if (close) return;
    var shown = {x: [], y: [], n: []};
    n.forEach(function (count, i) {
      if (count > 0) { shown.x.push(hexagons.x[i]); shown.y.push(hexagons.y[i]); shown.n.push(count); }
    });
    density.addLayer(geoHexagons(shown, options.hexagons));
  }
  map.on("zoomend overlayadd overlayremove", update);
  update();
}

// ------------------------------------------------------------------ labels

// Zone labels never take a click (they are not interactive and let pointer events
// through), and are decluttered: by priority, a label shows only where it overlaps
// no label already placed and its zone is at least as wide as a third of it.
var geoLabelSets = [];
function geoLabels(map, group, data, options) {
  var labels = [];
  for (var i = 0; i < data.text.length; i++) {
    var icon = L.divIcon({
      className: "geo-label-icon", iconSize: null,
      html: '<div class="geo-label" style="color:' + options.color + '">'
        + geoEscape(data.text[i]) + "</div>"
    });
    var marker = L.marker([data.y[i], data.x[i]], {
      icon: icon, interactive: false, keyboard: false, pane: "geoLabels"
    });
    marker.addTo(group);
    labels.push({marker: marker, bounds: L.latLngBounds(data.bounds[i]),
                 priority: options.priority, area: data.area[i]});
  }
  geoLabelSets.push({group: group, labels: labels});
}
function geoDeclutter(map) {
  var placed = [];
  var all = [];
  geoLabelSets.forEach(function (set) {
    if (!map.hasLayer(set.group)) return;
    set.labels.forEach(function (label) { all.push(label); });
  });
  all.sort(function (a, b) { return b.priority - a.priority || b.area - a.area; });
  all.forEach(function (label) {
    var element = label.marker.getElement();
    if (!element) return;
    element.style.visibility = "visible";
    var box = element.firstChild.getBoundingClientRect();
    var ne = map.latLngToContainerPoint(label.bounds.getNorthEast());
    var sw = map.latLngToContainerPoint(label.bounds.getSouthWest());
    // the proposed zones (priority 10) are the result: named however small
    var fits = label.priority >= 10 || Math.abs(ne.x - sw.x) >= box.width / 3;
    var free = placed.every(function (other) {
      return box.right + 4 < other.left || box.left - 4 > other.right
        || box.bottom + 2 < other.top || box.top - 2 > other.bottom;
    });
    if (fits && free) { placed.push(box); }
    else { element.style.visibility = "hidden"; }
  });
}
function geoLabelPane(map) {
  // above the shapes, below tooltips and popups; never a target of the mouse
  var pane = map.createPane("geoLabels");
  pane.style.zIndex = 450;
  pane.style.pointerEvents = "none";
  var pending = null;
  function later() {
    if (pending) cancelAnimationFrame(pending);
    pending = requestAnimationFrame(function () { pending = null; geoDeclutter(map); });
  }
  map.on("zoomend moveend overlayadd overlayremove resize", later);
  map.whenReady(later);
}

// ------------------------------------------------------------------ controls

// The layer control, collapsed, with its layers under headings (base, zones,
// firms, analyses, siting): layer names carry <i class="geo-g" data-g="..."></i>.
function geoGroupControl(control, headings) {
  var update = control._update;
  control._update = function () {
    var result = update.apply(this, arguments);
    var list = this._overlaysList;
    if (!list) return result;
    var rows = Array.prototype.slice.call(list.children);
    var order = Object.keys(headings);
    function groupOf(row) {
      var tag = row.querySelector(".geo-g");
      return tag ? tag.getAttribute("data-g") : "analyses";
    }
    rows = rows.filter(function (row) { return row.tagName === "LABEL"; });
    rows.sort(function (a, b) {
      return order.indexOf(groupOf(a)) - order.indexOf(groupOf(b));
    });
    list.innerHTML = "";
    var current = null;
    rows.forEach(function (row) {
      var group = groupOf(row);
      if (group !== current) {
        var heading = document.createElement("div");
        heading.className = "geo-group-title";
        heading.textContent = headings[group] || group;
        list.appendChild(heading);
        current = group;
      }
      list.appendChild(row);
    });
    return result;
  };
  control._update();
}
// Buttons that frame the urban core (the first view) or the whole city.
function geoViews(map, core, city, labels) {
  var Views = L.Control.extend({
    options: {position: "topleft"},
    onAdd: function () {
      var bar = L.DomUtil.create("div", "leaflet-bar geo-views");
      [[labels.core, core], [labels.city, city]].forEach(function (view) {
        var button = L.DomUtil.create("a", "", bar);
        button.href = "#";
        button.textContent = view[0];
        button.title = view[0];
        button.setAttribute("role", "button");
        L.DomEvent.on(button, "click", function (event) {
          L.DomEvent.stop(event);
          map.fitBounds(view[1]);
        });
      });
      return bar;
    }
  });
  new Views().addTo(map);
}
