"""The notice as the stages of ``init`` pass it on: paragraphs and tables, annexes, review lines."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Table:
    """A table of the notice: rows of cell texts, as printed (repeated header rows included)."""

    rows: tuple[tuple[str, ...], ...]


Block = str | Table  # a paragraph (one line of text) or a table


@dataclass(frozen=True)
class Annex:
    """One 附件 of the notice: its number, title, header line and what follows them."""

    number: int
    title: str
    header_line: str  # “填报单位：联系人：电话：填报日期：”, or ""
    tables: tuple[Table, ...]
    paragraphs: tuple[str, ...]  # other text of the annex (a 活动方案, a list of contacts)


@dataclass
class Review:
    """The list of choices the program was not sure of, in Chinese, quoting the notice."""

    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        """Record one uncertain choice."""
        self.lines.append(line)
