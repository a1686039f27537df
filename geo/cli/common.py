"""What every command shares: the app, the console, failures as one line, common options.

Every failure is one clear line and an exit status, never a traceback: user
mistakes and the environment (:class:`geo.errors.GeoError`, a full disk, a
read-only folder) exit with 2, an interruption with 130, and anything else is
a bug, reported as "internal error" with 3. ``GEO_DEBUG=1`` adds the
traceback. Passwords are masked in everything printed (:mod:`geo.redact`).
"""

from __future__ import annotations

import errno
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import click
import numpy as np
import typer
from rich.console import Console
from rich.text import Text

from geo import __version__
from geo.errors import ConfigError, GeoError

app = typer.Typer(
    name="geo",
    help="Spatial agglomeration analysis of manufacturing and producer services "
    "(两业协同集聚): maps, indices and GIS exports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)

# OSErrors that the environment or the user's paths cause, not a bug of geo
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS,
                       errno.EIO, errno.ENAMETOOLONG, errno.ENOENT, errno.ENOTDIR,
                       errno.EISDIR}


def _print_error(label: str, message: str) -> None:
    from geo.redact import redact

    if os.environ.get("GEO_DEBUG"):
        import traceback

        console.print(Text(redact(traceback.format_exc())), highlight=False, soft_wrap=True)
    else:
        # a writer the failure interrupted (a zip of an .xlsx on a full disk) may fail
        # again when Python discards it: that was reported just now, in one line
        sys.unraisablehook = lambda unraisable: None
    # Text, not markup: a file name such as "[red]x.csv" must print as it is
    console.print(Text.assemble((label, "bold red"), redact(message)), highlight=False,
                  soft_wrap=True)


def _friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every failure into a one-line message and an exit status (see the module)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.ClickException):
            raise
        except GeoError as exc:
            from geo.messages import user_lang

            given = kwargs.get("lang")
            lang = user_lang(given if given in ("zh", "en") else None)
            label = "错误：" if lang == "zh" and exc.message_zh else "error: "
            _print_error(label, exc.text(lang))
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            console.print("[bold red]interrupted[/]; no partial outputs were left")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            # the reader went away (geo ... | head): nothing to say, and nothing to flush
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(141) from None
        except OSError as exc:
            if exc.errno not in _ENVIRONMENT_ERRNOS:
                _internal_error(exc)
            from geo.outputs import explain_error

            where = f"{exc.filename}: " if exc.filename else ""
            _print_error("error: ", where + explain_error(exc)[0])
            raise typer.Exit(2) from None
        except Exception as exc:
            _internal_error(exc)

    return wrapper


def _internal_error(exc: Exception) -> None:
    """Report a bug of geo in one line (the traceback with GEO_DEBUG=1) and exit 3."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    hint = "report it" if os.environ.get("GEO_DEBUG") else "set GEO_DEBUG=1 for the traceback"
    _print_error("internal error: ", f"{type(exc).__name__}: {first} (a bug in geo; {hint})")
    raise typer.Exit(3) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"geo {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Spatial agglomeration analysis of manufacturing and producer services."""


def _parse_columns(pairs: list[str] | None) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            raise ConfigError(f"--column takes SCHEMA=FILE_COLUMN (e.g. lon=经度X), got '{pair}'")
        out[key.strip()] = value.strip()
    return out


CoordsOption = Annotated[
    str,
    typer.Option(
        "--coords",
        help="Coordinate system of the file: wgs84, gcj02 (Amap/Tencent), bd09 (Baidu), "
        "cgcs2000 or an EPSG code such as 4549.",
    ),
]
ColumnOption = Annotated[
    list[str] | None,
    typer.Option(
        "--column",
        help="Map a schema field to a file column, e.g. --column industry_code=行业小类. "
        "Repeatable. Fields: firm_id, name, industry_code, lon, lat, employees, revenue, year.",
    ),
]


BasemapOption = Annotated[
    str | None,
    typer.Option(help="Web map basemap: osm, cartodb, amap, amap-satellite (overlays shifted "
                 "to GCJ-02), tianditu (key: TIANDITU_TOKEN) or none. Default: the recipe's "
                 "(Amap for --lang zh, OSM for en); none with --offline."),
]
OfflineOption = Annotated[
    bool | None,
    typer.Option("--offline", help="Web map without a tile basemap, for use with no "
                 "network (every map is one self-contained HTML file that loads no code from "
                 "a CDN; only tiles need the network)."),
]
AllowFormulasOption = Annotated[
    bool,
    typer.Option("--allow-formulas", help="Trusted data only: write CSV/XLSX text as it is, so "
                 "text starting with = + - @ can run as a spreadsheet formula (default: shown "
                 "as text)."),
]



LangOption = Annotated[
    str | None,
    typer.Option("--lang", help="Language of messages: zh or en (default: the locale's)."),
]
ToleranceOption = Annotated[
    float,
    typer.Option("--boundary-tolerance", min=0.0, help="Keep points up to this many metres "
                 "outside the study area, moved 1 m inside (the distance is recorded)."),
]



def _write_report(write: Callable[[Path], Path | None], target: Path, lang: str) -> bool:
    """Write a rejects or flagged-rows file; remove geo's out-of-date one if none is due.

    A report left from an earlier check would list rows that are fine now.
    """
    from geo.messages import pick
    from geo.outputs import looks_like_report

    if write(target):
        return True
    if looks_like_report(target):
        target.unlink()
        console.print(pick(lang, f"已删除过时的 {target}", f"removed the out-of-date {target}"),
                      markup=False, highlight=False)
    return False


def _reports_beside(out: Path, firms: Path | None) -> list[Path]:
    """Return the rejects and flagged-rows files :func:`_load_firms` writes beside ``out``."""
    if firms is None:  # the synthetic population has no rejects
        return []
    return [out.with_name(out.stem + "_rejects.csv"), out.with_name(out.stem + "_flagged.csv")]


ForceOption = Annotated[
    bool, typer.Option("--force", help="Replace existing output files (never an input file).")
]
KeepFlaggedOption = Annotated[
    bool,
    typer.Option("--keep-flagged", help="Keep firms with suspect positions (geocoder fallback "
                 "points, district mismatches) in the distance statistics and clusters."),
]


def _load_firms(firms, coords, column, n, seed, area, out: Path | None,
                require_code: bool = True, located_only: bool = False,
                keep_flagged: bool = False):
    """Load the enterprise table: a user's file or the seed.

    The rejected rows go beside a file output ``out`` (``<stem>_rejects.csv``);
    with ``out=None`` (a folder output) the command writes them into its folder.
    With ``located_only`` (distance statistics, clusters, siting), firms with
    suspect positions are left out unless ``keep_flagged``. The row accounting
    is printed in the locale's language.
    """
    from geo.io.firms import read_firms
    from geo.io.industry import load_classification
    from geo.io.seed import generate_firms
    from geo.io.zones import load_layer
    from geo.messages import pick, user_lang

    if firms is None:
        return generate_firms(n, seed)
    table = read_firms(
        firms, coords=coords, columns=_parse_columns(column) or None, study_area=area,
        districts=load_layer("districts"), classification=load_classification(),
        require_code=require_code,
    )
    lang = user_lang()
    for line in table.report(lang):
        console.print(line, markup=False, highlight=False)
    suspect = table.firms["suspect_position"].to_numpy(dtype=bool)
    if located_only and suspect.any() and not keep_flagged:
        table.firms = table.firms[~suspect].reset_index(drop=True)
        console.print(pick(
            lang, f"{int(suspect.sum()):,} 家坐标可疑的企业未参与计算（--keep-flagged 可保留）",
            f"{int(suspect.sum()):,} firms with suspect positions are left out "
            "(--keep-flagged keeps them)"), markup=False)
    if out is None:
        return table
    for target, write in zip(_reports_beside(out, firms), (table.write_rejects,
                                                           table.write_flagged), strict=True):
        if _write_report(write, target, lang):
            console.print(pick(lang, f"详见 {target}", f"see {target}"), markup=False)
    return table


FirmsOption = Annotated[
    Path | None,
    typer.Option(help="Enterprise file. Default: the synthetic seed population."),
]
TypeA = Annotated[
    str,
    typer.Option("--a", help="Type A: a group (manufacturing, producer_services), high_tech, "
                 "a field (digital, tech, finance, logistics, business) or a code prefix (C39)."),
]
TypeB = Annotated[str, typer.Option("--b", help="Type B (same forms as --a).")]
TypeColumn = Annotated[
    str | None,
    typer.Option(help="Take the types from this column of the file instead (raw values)."),
]
WindowOption = Annotated[
    str,
    typer.Option(help="Window: study (study area), bbox, a zone layer or file, or "
                 "LAYER:ID,ID (e.g. districts:330106,330108)."),
]
NsimOption = Annotated[int, typer.Option(help="Number of simulations (0: none).")]
SeedOption = Annotated[int, typer.Option(help="Seed of the simulations.")]
OutCsv = Annotated[Path, typer.Option("--out", "-o", help="Result table (.csv).")]
PlotOption = Annotated[
    Path | None, typer.Option(help="Plot (.png); default: beside --out with .png.")
]
PopN = Annotated[int, typer.Option("--n", help="Size of the synthetic population.")]
PairsOption = Annotated[
    str | None,
    typer.Option(help="Many industry pairs in one pass instead of --a/--b: all (every pair of "
                 "types), LEFT*RIGHT (e.g. 'manufacturing*producer_services': every division "
                 "of the one with every division of the other; × also works) or a CSV file "
                 "with columns a,b. Writes a pair table, a pair matrix (csv, png) and the "
                 "curves."),
]
LevelOption = Annotated[
    str, typer.Option(help="Industry level of the types with --pairs: division (C39), group "
                      "(C391) or class (C3911).")
]
MinFirmsOption = Annotated[
    int, typer.Option(help="With --pairs: leave out types with fewer firms.")
]
WeightOption = Annotated[str, typer.Option(help="Point weights: count or employment.")]


def _weights(frame, weight: str):
    if weight == "count":
        return None
    if weight != "employment":
        raise ConfigError(f"unknown weight '{weight}': use count or employment")
    employees = frame["employees"].to_numpy(dtype=float)
    if not np.isfinite(employees).any():
        raise ConfigError("no employees in the data: use --weight count")
    missing = ~np.isfinite(employees)
    if missing.any():
        console.print(f"{int(missing.sum()):,} firms without employees get weight 0")
    return np.where(missing, 0.0, employees)
