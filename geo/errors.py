"""Exception types for mistakes a user can fix.

The CLI prints these messages without a traceback and exits with status 2;
anything else is a bug, reported as an internal error with status 3 (the
traceback with ``GEO_DEBUG=1``).
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
        Row number in that file as a spreadsheet shows it (header = row 1).
    column : str, optional
        The column (field) name.
    zh : str, optional
        The message in Chinese, shown when the user's language is Chinese.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
        zh: str | None = None,
    ) -> None:
        self.message = message
        self.message_zh = zh
        self.file = str(file) if file is not None else None
        self.row = row
        self.column = column
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return self.text("en")

    def text(self, lang: str = "en") -> str:
        """Return the message with where it happened, in Chinese or English.

        Parameters
        ----------
        lang : {"en", "zh"}
            Language; Chinese falls back to English where no Chinese text exists.

        Returns
        -------
        str
        """
        zh = lang == "zh" and self.message_zh is not None
        where = []
        if self.file:
            where.append(f"文件 {self.file}" if zh else f"file {self.file}")
        if self.row is not None:
            where.append(f"第 {self.row} 行" if zh else f"row {self.row}")
        if self.column:
            where.append(f"“{self.column}”列" if zh else f"column '{self.column}'")
        message = self.message_zh if zh else self.message
        if not where:
            return message
        return ("，" if zh else ", ").join(where) + ("：" if zh else ": ") + message


class InputError(GeoError):
    """A data file cannot be read or does not fit the expected schema."""


class CoordinateError(InputError):
    """Coordinates are missing, implausible or in an unexpected system."""


class ConfigError(GeoError):
    """A run configuration or command-line option is invalid."""


class OutputError(GeoError):
    """An output cannot be written (path, permissions, disk space)."""
