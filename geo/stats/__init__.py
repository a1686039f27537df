"""Analyse: the statistics, pure functions of normalised firms (metres, seeded).

Reads only :mod:`geo.io` and the shared foundations; writes no files.

- zonal indices: :mod:`geo.stats.indices` (the formulas: location quotients,
  Ellison–Glaeser, co-agglomeration), :mod:`geo.stats.schemes` (grouping
  schemes) and :mod:`geo.stats.zonal` (every index of a zone layer);
- the pair engine: :mod:`geo.stats.pairs` (one pass over point pairs for many
  labellings), :mod:`geo.stats.typepairs` (many industry pairs at once),
  :mod:`geo.stats.pair_distances` (distance summaries for bandwidths) and
  :mod:`geo.stats.threads` (thread counts, never nested);
- distance functions: :mod:`geo.stats.ripley` (K, L, cross-K),
  :mod:`geo.stats.kdensity` (Duranton–Overman Kd), :mod:`geo.stats.bandwidths`
  (R's bandwidths and binned density), :mod:`geo.stats.mfunction`
  (Marcon–Puech M), :mod:`geo.stats.colocation` (co-location quotients) and
  :mod:`geo.stats.coagglomeration` (all of them for many industry pairs);
- :mod:`geo.stats.distance`: types, windows and the distance studies of
  ``geo run``;
- local statistics and surfaces: :mod:`geo.stats.hotspots` (Gi*, local Moran),
  :mod:`geo.stats.clusters` (HDBSCAN cluster areas), :mod:`geo.stats.density`
  (kernel density rasters);
- time: :mod:`geo.stats.panel` (snapshots by year) and
  :mod:`geo.stats.entrants` (where new firms located).
"""
