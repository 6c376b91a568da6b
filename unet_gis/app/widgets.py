"""Small widgets shared by the panels."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFontMetrics, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


def fit_line(metrics: QFontMetrics, line: str, width: int, wrap: bool) -> str:
    """``line`` for a label ``width`` px wide: elided in the middle (``wrap=False``), or,
    with ``wrap``, only its words too long for any line (paths) elided in the middle."""
    if metrics.horizontalAdvance(line) <= width:
        return line
    middle = Qt.TextElideMode.ElideMiddle
    if not wrap:
        return metrics.elidedText(line, middle, width)
    return " ".join(word if metrics.horizontalAdvance(word) <= width
                    else metrics.elidedText(word, middle, width) for word in line.split(" "))


class ElidedLabel(QLabel):
    """A label that never widens its panel: long paths lose their middle, not their ends.

    :meth:`text` and the tooltip keep the full text; :meth:`shown` is what is drawn.
    """

    def __init__(self, text: str = "", wrap: bool = True, parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self._full = ""
        self._wrap = wrap
        self.setWordWrap(wrap)
        self.setTextFormat(Qt.TextFormat.PlainText)
        # wrapped text takes the width it is given; a single line asks for its full width
        # (up to the maximum width) and shrinks, elided, below it
        self.setSizePolicy(QSizePolicy.Policy.Ignored if wrap else QSizePolicy.Policy.Preferred,
                           QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt naming
        self._full = text
        self.setToolTip(text)
        self._fit()

    def text(self) -> str:
        return self._full

    def shown(self) -> str:
        return super().text()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        hint = super().sizeHint()
        if not self._wrap:
            widest = max(self.fontMetrics().horizontalAdvance(line)
                         for line in self._full.split("\n"))
            hint.setWidth(widest + 2 * self.margin() + 4)
        return hint

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        hint = super().minimumSizeHint()
        hint.setWidth(min(hint.width(), 16))
        return hint

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        metrics = self.fontMetrics()
        width = max(8, self.contentsRect().width() - 2 * self.margin() - 2)
        lines = [fit_line(metrics, line, width, self._wrap) for line in self._full.split("\n")]
        super().setText("\n".join(lines))
