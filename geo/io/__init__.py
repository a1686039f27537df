"""Normalise: everything read, checked and classified before any analysis.

The first stage of the data flow; nothing here imports :mod:`geo.stats` or a
later stage.

- registers: :mod:`geo.io.firms` (read, validate, reproject, classify), with
  :mod:`geo.io.readers`, :mod:`geo.io.text`, :mod:`geo.io.vector`
  (file formats), :mod:`geo.io.encodings`, :mod:`geo.io.columns`,
  :mod:`geo.io.values`, :mod:`geo.io.checks`, :mod:`geo.io.quality` and
  :mod:`geo.io.problems` (fields, cells, positions and rejected rows);
- coordinate systems: :mod:`geo.io.crs` (WGS84, CGCS2000, GCJ-02, BD-09);
- industries: :mod:`geo.io.industry` (GB/T 4754 groups and fields) and
  :mod:`geo.io.industry_codes` (codes and names of a real register);
- zones: :mod:`geo.io.zones` (bundled and users' layers) and
  :mod:`geo.io.grids` (square, hexagonal and H3 grids);
- the synthetic default population: :mod:`geo.io.seed`.
"""
