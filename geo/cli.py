"""Command-line interface: ``geo`` (also ``python -m geo``)."""

from __future__ import annotations

import typer

from geo import __version__

app = typer.Typer(
    name="geo",
    help="Spatial agglomeration analysis of manufacturing and producer services "
    "(两业协同集聚): maps, indices and GIS exports.",
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"geo {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Spatial agglomeration analysis of manufacturing and producer services."""


def main() -> None:
    """Entry point of the ``geo`` command."""
    app()
