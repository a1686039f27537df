"""Jinja macros of the web map page: styles, scripts and HTML around the layers.

Each macro is rendered by a :func:`geo.maps.web` element; values reach them
escaped (``|e``) or as script-safe JSON (:func:`geo.safety.script_json`). The
behaviours themselves are in ``assets/map.js`` and ``assets/map.css``.
"""

# Every page carries geo's script (tooltips, popups, points, hexagons, labels,
# controls) and style inline: see assets/map.js and assets/map.css.
SCRIPT = """
{% macro script(this, kwargs) %}
{{ this.code }}
{% endmacro %}
"""

# A layer switched off at first (local CLQ) builds its shapes when first shown,
# so the page opens without building tens of thousands of hidden markers.
DRAW = """
{% macro script(this, kwargs) %}
(function (group) {
  var data = {{ this.data }};
  function build() { {{ this.function }}(data, {{ this.options }}).addTo(group); }
  if ({{ this._parent._parent.get_name() }}.hasLayer(group)) { build(); }
  else { group.once("add", build); }
})({{ this._parent.get_name() }});
{% endmacro %}
"""

DRAW_FIRMS = """
{% macro script(this, kwargs) %}
geoFirms({{ this._parent.get_name() }}, [{{ this.groups|join(", ") }}],
  {{ this.data }},
  {{ this.options }});
{% endmacro %}
"""

LABELS = """
{% macro script(this, kwargs) %}
geoLabels({{ this._parent._parent.get_name() }}, {{ this._parent.get_name() }},
          {{ this.data }}, {{ this.options }});
{% endmacro %}
"""

INFO = """
{% macro script(this, kwargs) %}
geoPopup(geoTooltip({{ this._parent.get_name() }}, {{ this.fields }}, {{ this.aliases }}),
         {{ this.fields }}, {{ this.aliases }});
{% endmacro %}
"""

PAGE_STYLE = """
{% macro header(this, kwargs) %}
<style>
{{ this.css }}
{% if this.blank %}.leaflet-container{background:#ffffff}{% endif %}
</style>
{% endmacro %}
"""

TITLE = """
{% macro html(this, kwargs) %}
<div class="geo-title">{{ this.text|e }}</div>
{% endmacro %}
"""

LEGEND = """
{% macro html(this, kwargs) %}
<div class="geo-legend">
  {% for entry in this.entries %}
  <div class="geo-legend-entry" id="{{ this.get_name() }}_{{ loop.index }}">
    {% if entry.title %}<b>{{ entry.title|e }}</b><br>{% endif %}
    {% for css, text in entry.rows %}
    <span class="geo-key" style="{{ css|e }}"></span>{{ text|e }}<br>
    {% endfor %}
    {% if entry.note %}<i>{{ entry.note|e }}</i>{% endif %}
  </div>
  {% endfor %}
  {% if this.note %}<div class="geo-note">{{ this.note|e }}</div>{% endif %}
</div>
{% endmacro %}
{% macro script(this, kwargs) %}
(function (map) {
  // a legend entry shows while any of its layers is on the map
  var entries = [
    {% for entry in this.entries %}
    [document.getElementById("{{ this.get_name() }}_{{ loop.index }}"),
     [{{ entry.groups|join(", ") }}]],
    {% endfor %}
  ];
  function sync() {
    entries.forEach(function (entry) {
      var shown = entry[1].some(function (layer) { return map.hasLayer(layer); });
      entry[0].style.display = shown ? "" : "none";
    });
  }
  map.on("overlayadd overlayremove", sync);
  // a layer switched on shows its legend entry, scrolling the legend to it
  map.on("overlayadd", function (event) {
    entries.forEach(function (entry) {
      if (entry[1].indexOf(event.layer) >= 0 && entry[0].scrollIntoView) {
        entry[0].scrollIntoView({block: "nearest"});
      }
    });
  });
  sync();
})({{ this._parent.get_name() }});
{% endmacro %}
"""

ATTRIBUTION = """
{% macro script(this, kwargs) %}
{{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text }});
{% endmacro %}
"""

# Leaflet.fullscreen ships in no Python package, so an offline page could not
# inline it; the browser's Fullscreen API needs only this control.
FULLSCREEN = """
{% macro script(this, kwargs) %}
(function (map) {
  var Fullscreen = L.Control.extend({
    options: {position: "topleft"},
    onAdd: function () {
      var bar = L.DomUtil.create("div", "leaflet-bar geo-fullscreen");
      var button = L.DomUtil.create("a", "", bar);
      button.href = "#";
      button.title = {{ this.label|tojson }};
      button.setAttribute("role", "button");
      button.innerHTML = '<svg width="14" height="14" viewBox="0 0 14 14" fill="none" '
        + 'stroke="#333" stroke-width="2"><path d="M1 5V1h4M9 1h4v4M13 9v4H9M5 13H1V9"/></svg>';
      L.DomEvent.on(button, "click", function (event) {
        L.DomEvent.stop(event);
        if (document.fullscreenElement) { document.exitFullscreen(); }
        else { document.documentElement.requestFullscreen(); }
      });
      return bar;
    }
  });
  new Fullscreen().addTo(map);
})({{ this._parent.get_name() }});
{% endmacro %}
"""

CONTROLS = """
{% macro script(this, kwargs) %}
(function (map) {
  L.control.scale({imperial: false}).addTo(map);
  geoGroupControl({{ this.control }}, {{ this.headings }});
  geoViews(map, {{ this.core }}, {{ this.city }}, {{ this.labels }});
})({{ this._parent.get_name() }});
{% endmacro %}
"""

# the pane of the zone labels exists before the layers that put labels in it
LABEL_PANE = """
{% macro script(this, kwargs) %}
geoLabelPane({{ this._parent.get_name() }});
{% endmacro %}
"""

BRING_TO_BACK = """
{% macro script(this, kwargs) %}
{{ this.layer }}.on("add", function (event) { event.target.bringToBack(); });
{% endmacro %}
"""
