"""Exception types for mistakes a user can fix.

The CLI prints these messages without a traceback and exits non-zero; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class GeoError(Exception):
    """Base class for errors caused by input, configuration or environment.

    Parameters
    ----------
    message : str
        What is wrong and how to fix it.
    file : str or Path, optional
        The file the problem was found in.
    row : int, optional
        1-based data row number (header excluded) in that file.
    column : str, optional
        The column (field) name.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.row = row
        self.column = column
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(f"file {self.file}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class InputError(GeoError):
    """A data file cannot be read or does not fit the expected schema."""


class CoordinateError(InputError):
    """Coordinates are missing, implausible or in an unexpected system."""


class ConfigError(GeoError):
    """A run configuration or command-line option is invalid."""


class OutputError(GeoError):
    """An output cannot be written (path, permissions, disk space)."""
