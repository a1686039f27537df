"""Export map layers for QGIS, ArcGIS, PostGIS and Google Earth.

- :mod:`geo.export.layers`: the run's GeoPackage (with QGIS styles), other GIS
  formats and tables;
- :mod:`geo.export.postgis`: one table per layer in a PostGIS database;
- :mod:`geo.export.kml`: attributes and class styles of KML files.

Exports consume result layers and map recipes (:mod:`geo.maps`); they never
recompute statistics.
"""
