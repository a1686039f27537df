"""GIS layers (GeoPackage, Shapefile, GeoJSON, FlatGeobuf, KML) read whole, whatever their text.

Shapefiles keep their attributes in a DBF whose encoding is declared by a
``.cpg`` file, by a code page in the DBF header, or not at all, and Chinese
ones are often wrong:

- no declaration: GDAL reads ISO-8859-1 and Chinese comes out garbled without
  an error, so the records are tried as UTF-8, then GB18030;
- a ``.cpg`` saying UTF-8 over GBK records (a file re-saved by a tool that
  writes UTF-8 ``.cpg`` files), or UTF-8 field names cut at 10 bytes inside a
  character (the DBF limit): GDAL's text fails to decode. The layer is then
  read byte for byte and decoded here, in the encoding the records decode in;
- Chinese field names longer than 10 bytes are cut (统一社会信用代码 becomes
  统一社会信 in GBK, 统一社 in UTF-8): :func:`restore_cut_names` maps such a
  name back to the register header it is the start of, when only one field's
  headers start that way.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from geo.errors import InputError
from geo.io.columns import ALIASES, header_key
from geo.io.crs import non_horizontal_kind

_DBF_NAME_BYTES = 10  # a DBF field name is at most 10 bytes
_RAW = "ISO-8859-1"  # GDAL passes every byte through as one character of it


def gdal_message(exc: Exception) -> str:
    """Return GDAL's message without its hint about driver prefixes, which does not apply.

    Parameters
    ----------
    exc : Exception
        The error pyogrio raised.

    Returns
    -------
    str
    """
    text = str(exc).split("; It might help")[0].rstrip(". ")
    return f"{text}; is the file complete and in the format its extension says?"


def read_vector(
    path: Path, *, layer: str | None = None, encoding: str | None = None,
    notes: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """Read a layer with pyogrio, repairing the text encoding of Shapefiles.

    Parameters
    ----------
    path : Path
        The file.
    layer : str, optional
        The layer of a multi-layer file.
    encoding : str, optional
        The attribute encoding of a Shapefile, given by the user (never
        second-guessed); detected when not given.
    notes : list of str, optional
        Receives what was decided (the encoding used).

    Returns
    -------
    GeoDataFrame

    Raises
    ------
    InputError
        If the text cannot be decoded (the given encoding is wrong, or a
        non-Shapefile is not UTF-8).
    Exception
        pyogrio's errors on unreadable files, for the caller to word.
    """
    import pyogrio

    notes = notes if notes is not None else []
    shapefile = path.suffix.lower() == ".shp"
    given = encoding
    if shapefile and not encoding:
        encoding = _shapefile_encoding(path, notes)
    options = {"encoding": encoding} if shapefile and encoding else {}
    try:
        return pyogrio.read_dataframe(path, layer=layer, **options)
    except UnicodeDecodeError as exc:
        if not shapefile or given:
            label = given or "UTF-8"
            raise InputError(
                f"the layer's text is not valid {label} (byte 0x{exc.object[exc.start]:02X}); "
                + ("give the right encoding" if given else "save it again as UTF-8"),
                zh=f"图层的文字不是有效的 {label} 编码；"
                + ("请给出正确的编码" if given else "请重新保存为 UTF-8"),
                file=path,
            ) from exc
    frame = pyogrio.read_dataframe(path, layer=layer, encoding=_RAW)
    return _redecode(frame, notes)


def _shapefile_encoding(path: Path, notes: list[str]) -> str | None:
    """Guess the attribute encoding of a Shapefile that declares none (see the module)."""
    if any(path.with_suffix(s).exists() for s in (".cpg", ".CPG")):
        return None
    dbf = next((p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.exists()),
               None)
    if dbf is None:
        return None
    try:
        data = dbf.read_bytes()
    except OSError:
        return None
    if len(data) < 32 or data[29] != 0:  # byte 29: the DBF code page (0 = none declared)
        return None
    header_length = int.from_bytes(data[8:10], "little")
    records = data[header_length:]
    if records.isascii():
        return None
    for name, label in (("utf-8", "UTF-8"), ("gb18030", "GB18030")):
        try:
            records.decode(name)
        except UnicodeDecodeError:
            continue
        notes.append(f"Shapefile without .cpg: attributes read as {label}")
        return name
    return None


def _redecode(frame: gpd.GeoDataFrame, notes: list[str]) -> gpd.GeoDataFrame:
    """Decode a layer read byte for byte: names and values in the codec they decode in."""
    geometry = frame.geometry.name
    text = [c for c in frame.columns
            if c != geometry and pd.api.types.is_string_dtype(frame[c].dtype)]
    values = [v.encode(_RAW) for c in text for v in frame[c] if isinstance(v, str)]
    names = [str(c).encode(_RAW) for c in frame.columns if c != geometry]
    codec, errors = "gb18030", "replace"
    for candidate in ("utf-8", "gb18030"):
        try:
            for value in values:
                value.decode(candidate)
            for name in names:
                _decode_cut(name, candidate, "strict")
        except UnicodeDecodeError:
            continue
        codec, errors = candidate, "strict"
        break
    out = frame.copy()
    for column in text:
        out[column] = [v.encode(_RAW).decode(codec, errors) if isinstance(v, str) else v
                       for v in frame[column]]
    out.columns = [c if c == geometry else _decode_cut(str(c).encode(_RAW), codec, errors)
                   for c in frame.columns]
    label = {"utf-8": "UTF-8", "gb18030": "GB18030"}[codec]
    notes.append(f"Shapefile text decoded as {label} (not as the file declares, or a field name "
                 "is cut inside a character)"
                 + ("" if errors == "strict" else "; undecodable bytes are shown as �"))
    return out


def _decode_cut(name: bytes, codec: str, errors: str) -> str:
    """Decode a DBF field name, dropping a character the 10-byte limit cut in two."""
    return codecs.getincrementaldecoder(codec)(errors).decode(name, final=False)


def restore_cut_names(frame: gpd.GeoDataFrame, notes: list[str]) -> gpd.GeoDataFrame:
    """Rename Shapefile field names cut at 10 bytes to the register header they start.

    A name is restored when the headers of exactly one register field (see
    :data:`geo.io.columns.ALIASES`), cut at 10 bytes in GBK or UTF-8, give it:
    ``统一社会信`` becomes ``统一社会信用代码``. A name that could be several
    fields' is left, with a note to map it with ``--column``.

    Parameters
    ----------
    frame : GeoDataFrame
        The layer as read.
    notes : list of str
        Receives the renames and the ambiguous names.

    Returns
    -------
    GeoDataFrame
        The layer with restored names (the same object when none is).
    """
    known = {header_key(alias) for aliases in ALIASES.values() for alias in aliases}
    taken = {header_key(c) for c in frame.columns}
    renames: dict[str, str] = {}
    for column in map(str, frame.columns):
        key = header_key(column)
        if key in known:
            continue
        matches: dict[str, str] = {}
        for name, aliases in ALIASES.items():
            for alias in aliases:
                for codec in ("gbk", "utf-8"):
                    try:
                        cut = _decode_cut(alias.encode(codec)[:_DBF_NAME_BYTES], codec, "strict")
                    except UnicodeEncodeError:
                        continue
                    if cut != alias and header_key(cut) == key:
                        matches.setdefault(name, alias)
        if len(matches) == 1:
            alias = next(iter(matches.values()))
            if header_key(alias) not in taken:
                renames[column] = alias
                taken.add(header_key(alias))
        elif matches:
            notes.append(f"Shapefile field '{column}' may be {' or '.join(matches.values())} "
                         "cut at 10 bytes; map it with --column")
    if not renames:
        return frame
    notes.append("Shapefile field names cut at 10 bytes read as: "
                 + ", ".join(f"{old} → {new}" for old, new in renames.items()))
    return frame.rename(columns=renames)


def require_horizontal(crs: pyproj.CRS | None, path: Path) -> None:
    """Refuse a layer whose CRS cannot place it on a map (vertical, geocentric, local).

    Parameters
    ----------
    crs : pyproj.CRS or None
        The layer's declared CRS (None passes).
    path : Path
        The file, for the message.

    Raises
    ------
    InputError
        Naming the kind of CRS and how to fix the file.
    """
    kind = non_horizontal_kind(crs) if crs is not None else None
    if kind is None:
        return
    raise InputError(
        f"the file's coordinate system ({crs.name}) is {kind[0]}, which has no "
        "conversion to longitude/latitude; reproject the file to a geographic or projected "
        "CRS (in QGIS: Export > Save Features As), or remove its CRS (.prj) and pass its "
        "coordinate system",
        zh=f"文件的坐标系（{crs.name}）是{kind[1]}，无法转换为经纬度；请将文件转换到地理"
        "或投影坐标系（QGIS：导出 > 要素另存为），或删除其坐标系定义（.prj）并指定坐标系",
        file=path,
    )


def repair_geometries(geometries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Repair invalid geometries (``make_valid``, structure method; collapsed parts dropped).

    Parameters
    ----------
    geometries : numpy.ndarray of shapely geometries

    Returns
    -------
    tuple of numpy.ndarray
        The geometries (a copy where any was repaired) and the mask of those repaired.
    """
    invalid = ~shapely.is_valid(geometries) & ~shapely.is_missing(geometries)
    if invalid.any():
        geometries = geometries.copy()
        geometries[invalid] = shapely.make_valid(
            geometries[invalid], method="structure", keep_collapsed=False
        )
    return geometries, invalid


def tidy_layer(frame: gpd.GeoDataFrame, path: Path, notes: list[str]) -> gpd.GeoDataFrame:
    """Make a user's layer ready to reproject, export and draw; say what was done in ``notes``.

    - a CRS that is not horizontal is refused (:func:`require_horizontal`);
    - features with a non-finite coordinate (NaN, infinity) lose their geometry;
    - invalid geometries (self-intersections, holes outside their shell) are repaired;
    - a layer without a CRS is read as WGS84 when its coordinates are
      longitude/latitude, and refused otherwise (metres cannot be guessed).

    Parameters
    ----------
    frame : GeoDataFrame
        The layer as read.
    path : Path
        Its file, for messages.
    notes : list of str
        Receives one line per change.

    Returns
    -------
    GeoDataFrame

    Raises
    ------
    InputError
        For a CRS that is not horizontal, or projected coordinates without a CRS.
    """
    require_horizontal(frame.crs, path)
    geometries = frame.geometry.to_numpy().copy()
    coords, index = shapely.get_coordinates(geometries, include_z=True, return_index=True)
    broken = np.unique(index[~np.isfinite(coords[:, :2]).all(axis=1)])
    if broken.size:
        geometries[broken] = None
        notes.append(f"{path.name}: {broken.size} feature(s) with a NaN or infinite coordinate "
                     f"have no geometry (rows {', '.join(map(str, broken[:10] + 1))})")
    geometries, repaired = repair_geometries(geometries)
    if repaired.any():
        notes.append(f"{path.name}: {int(repaired.sum())} invalid geometr"
                     f"{'y' if repaired.sum() == 1 else 'ies'} repaired (self-intersections, "
                     "holes outside their shell)")
    frame = frame.set_geometry(gpd.GeoSeries(geometries, index=frame.index, crs=frame.crs))
    if frame.crs is None:
        present = geometries[~shapely.is_missing(geometries) & ~shapely.is_empty(geometries)]
        west, south, east, north = (shapely.total_bounds(present) if present.size
                                    else (0.0, 0.0, 0.0, 0.0))
        if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
            raise InputError(
                f"the file declares no coordinate system and its coordinates (x {west:.0f} to "
                f"{east:.0f}, y {south:.0f} to {north:.0f}) are not longitude/latitude; give it "
                "its CRS (a .prj file, or in QGIS: Layer > Set CRS, then Export)",
                zh=f"文件没有声明坐标系，且其坐标（x {west:.0f}–{east:.0f}，y {south:.0f}–"
                f"{north:.0f}）不是经纬度；请为文件指定坐标系（.prj 文件，或在 QGIS 中：图层 > "
                "设置坐标系，再导出）",
                file=path,
            )
        frame = frame.set_crs("EPSG:4326")
        notes.append(f"{path.name}: no coordinate system declared; read as WGS84 "
                     "longitude/latitude")
    return frame
