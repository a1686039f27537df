"""geo: spatial agglomeration and co-agglomeration analysis of enterprises.

The package reads enterprise registers and zone layers, measures where
manufacturing and producer services agglomerate (together or apart), and draws
and exports the results as maps and GIS layers.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("geo-agglomeration")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+checkout"

__all__ = ["__version__"]
