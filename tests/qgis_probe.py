"""Open a GeoPackage in QGIS (offscreen) the way a planner does and report what is drawn.

Run with the system Python that has Debian's ``python3-qgis`` (not the project's
venv): ``QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_probe.py FILE.gpkg
OUT.json [LAYER ...]``. Every layer is loaded with its default style (the
GeoPackage's ``layer_styles``), all are rendered together over the full extent
into a 1600x1000 image, and the JSON written holds, per layer: whether it is
valid, the renderer type, the fill colour QGIS gives each feature (by fid, or
null when it draws nothing), the number of labels placed, and every message
QGIS/GDAL logged while opening.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402 - QT_QPA_PLATFORM must be set first
    QgsApplication,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsRectangle,
    QgsRenderContext,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402


def main() -> None:
    path, out, *names = sys.argv[1:]
    app = QgsApplication([], False)
    app.initQgis()
    messages: list[str] = []
    QgsApplication.messageLog().messageReceived.connect(
        lambda message, tag, level: messages.append(f"{tag}: {message}")
    )
    if not names:
        # every layer: "index!!::!!name!!::!!count!!::!!geometry..." per sublayer
        whole = QgsVectorLayer(path, "all", "ogr")
        names = [entry.split("!!::!!")[1] for entry in whole.dataProvider().subLayers()]
    report: dict[str, dict] = {}
    layers = []
    for name in names:
        layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
        entry: dict = {"valid": layer.isValid()}
        report[name] = entry
        if not layer.isValid() or not layer.isSpatial():
            continue
        renderer = layer.renderer()
        entry["renderer"] = renderer.type() if renderer else None
        entry["labels_enabled"] = bool(layer.labelsEnabled())
        context = QgsRenderContext()
        context.setExpressionContext(layer.createExpressionContext())
        renderer.startRender(context, layer.fields())
        colours: dict[str, str | None] = {}
        for feature in layer.getFeatures():
            context.expressionContext().setFeature(feature)
            symbols = renderer.symbolsForFeature(feature, context)
            colours[str(feature.id())] = (
                QColor(symbols[0].color()).name() if symbols else None
            )
        renderer.stopRender(context)
        entry["colours"] = colours
        layers.append(layer)
    settings = QgsMapSettings()
    settings.setLayers(list(reversed(layers)))  # the first named layer on top
    extent = QgsRectangle()
    for layer in layers:
        extent.combineExtentWith(layer.extent())
    settings.setExtent(extent)
    settings.setOutputSize(QSize(1600, 1000))
    settings.setDestinationCrs(layers[0].crs() if layers else settings.destinationCrs())
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    results = job.takeLabelingResults()
    placed = results.labelsWithinRect(settings.visibleExtent()) if results else []
    by_layer = {layer.id(): layer.name() for layer in layers}
    for label in placed:
        name = by_layer.get(label.layerID)
        if name:
            report[name]["labels"] = report[name].get("labels", 0) + 1
    if len(sys.argv) > 3 and os.environ.get("QGIS_PROBE_IMAGE"):
        job.renderedImage().save(os.environ["QGIS_PROBE_IMAGE"])
    with open(out, "w", encoding="utf-8") as handle:
        json.dump({"layers": report, "messages": messages}, handle, ensure_ascii=False)
    # QGIS 3.22 can crash tearing down Qt after offscreen rendering; the report is written
    os._exit(0)


if __name__ == "__main__":
    main()
