"""Siting new producer-service agglomeration zones where manufacturing is under-served.

- :mod:`geo.siting.access`: two-step floating catchment accessibility;
- :mod:`geo.siting.locate`: location-allocation (MCLP and p-median);
- :mod:`geo.siting.study`: the siting study of ``geo site`` and ``geo run``.

Reads :mod:`geo.io` and :mod:`geo.stats`; nothing here draws or writes files.
"""
