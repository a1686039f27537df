"""Per-row problems of a register: why a row is rejected or flagged, in both languages.

The readers record rows they cannot read (a malformed line, bad bytes), the
field checks of :mod:`geo.io.checks` the rows whose values fail; both use
:class:`RowProblems`, and :func:`geo.io.firms.normalise_firms` turns them into
the rejects table and the flags of the kept rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class RowProblems:
    """Per-row problems (rejections) or flags, in both languages; a row may have several.

    Parameters
    ----------
    n : int
        Number of rows.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.reason_en = np.full(n, None, dtype=object)
        self.reason_zh = np.full(n, None, dtype=object)
        self.column = np.full(n, None, dtype=object)
        self.category = np.full(n, None, dtype=object)

    def add(
        self,
        mask: np.ndarray,
        column: str,
        en: str | np.ndarray,
        zh: str | np.ndarray,
        category: str,
    ) -> None:
        """Record a reason (one text, or one per row) for the rows where ``mask`` is True."""
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return
        texts_en = [en] * rows.size if isinstance(en, str) else list(en[rows])
        texts_zh = [zh] * rows.size if isinstance(zh, str) else list(zh[rows])
        for i, text_en, text_zh in zip(rows.tolist(), texts_en, texts_zh, strict=True):
            if self.reason_en[i] is None:
                self.reason_en[i], self.reason_zh[i] = text_en, text_zh
                self.column[i], self.category[i] = column, category
            else:
                self.reason_en[i] = f"{self.reason_en[i]}; {text_en}"
                self.reason_zh[i] = f"{self.reason_zh[i]}；{text_zh}"
                if column not in self.column[i].split(", "):
                    self.column[i] = f"{self.column[i]}, {column}"

    def include(self, other: RowProblems) -> None:
        """Add the problems recorded in ``other`` (for the same rows) to these."""
        marked = other.marked
        for category in pd.unique(other.category[marked]):
            of_category = marked & (other.category == category)
            for column in pd.unique(other.column[of_category]):
                self.add(of_category & (other.column == column), column, other.reason_en,
                         other.reason_zh, category)

    def replace(self, other: RowProblems) -> None:
        """Give the rows marked in ``other`` its problems instead of their own."""
        rows = other.marked
        for name in ("reason_en", "reason_zh", "column", "category"):
            getattr(self, name)[rows] = getattr(other, name)[rows]

    @property
    def marked(self) -> np.ndarray:
        """Rows with at least one problem."""
        return ~pd.isna(self.reason_en)

    def counts(self, where: np.ndarray) -> dict[str, int]:
        """Count rows by their first problem's category."""
        categories = pd.Series(self.category[where], dtype=object).value_counts()
        return {str(k): int(v) for k, v in categories.items()}
