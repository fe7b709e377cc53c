"""CSV that a spreadsheet opens safely: no cell is taken for a formula.

A cell that starts with =, +, -, @, a tab or a carriage return is run as a formula by Excel,
LibreOffice and Google Sheets (a flag note "=HYPERLINK(...)", a file named "=1+1*cmd|..."). OWASP's
rule: prefix such a cell with a single quote, which spreadsheets show as text. Numbers stay numbers:
a negative value is written as it is. Pure Python, for every export of the platform.
"""

import csv
import math
from typing import Any, TextIO

DANGEROUS_FIRST = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def safe_cell(value: Any) -> Any:
    """The value as a spreadsheet should see it: text that would start a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(DANGEROUS_FIRST) and not _is_number(value):
        return "'" + value
    return value


def unquote_cell(text: str) -> str:
    """Undo safe_cell for a value read back from one of our own exports."""
    if text.startswith("'") and text[1:].startswith(DANGEROUS_FIRST):
        return text[1:]
    return text


class SafeWriter:
    """csv.writer with every cell passed through safe_cell."""

    def __init__(self, out: TextIO, **kwargs: Any):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row) -> None:
        self._writer.writerow([safe_cell(value) for value in row])


def safe_writer(out: TextIO, **kwargs: Any) -> SafeWriter:
    return SafeWriter(out, **kwargs)
