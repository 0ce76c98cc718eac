"""The CSV injection guard (``domain/csv_cells.safe_cell``, used by reports and exports): any cell
whose first character that counts is a formula start is quoted, whatever blanks, controls,
zero-width or fullwidth characters come first."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, strategies as st

from chalicelib.domain.csv_cells import safe_cell
from chalicelib.services.exports import safe_cell as exported_guard

IGNORABLE = [" ", "\n", "\v", "\f", "\u00a0", "\u3000", "\u200b", "\u200c", "\u200d", "\u2060"]
IGNORABLE += ["\ufeff", "\x00", "\x1b"]
STARTS = ["=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20", "\ufe66"]


@pytest.mark.parametrize(
    "cell",
    [
        ' =HYPERLINK("http://evil")',  # a leading space
        "\n=1+1",  # a line feed
        "\uff1dcmd|' /C calc'!A0",  # fullwidth equals
        "\u200b=1+1",  # a zero-width space
    ],
    ids=["space", "line-feed", "fullwidth", "zero-width-space"],
)
def test_the_reproductions_that_escaped_the_guard_are_quoted(cell: str) -> None:
    assert safe_cell(cell) == "'" + cell
    assert exported_guard is safe_cell  # the exports and reports use this one guard


@given(
    prefix=st.lists(st.sampled_from(IGNORABLE), max_size=6).map("".join),
    start=st.sampled_from(STARTS),
    rest=st.text(max_size=20),
)
def test_a_formula_start_after_any_ignorable_prefix_is_quoted(
    prefix: str, start: str, rest: str
) -> None:
    cell = prefix + start + rest
    assert safe_cell(cell) == "'" + cell


@given(
    prefix=st.lists(st.sampled_from(IGNORABLE), max_size=6).map("".join),
    first=st.characters(categories=["L", "N"]),
    rest=st.text(max_size=20),
)
def test_text_starting_with_a_letter_or_digit_is_left_alone(
    prefix: str, first: str, rest: str
) -> None:
    cell = prefix + first + rest
    assert safe_cell(cell) == cell


def test_numbers_and_plain_text_are_unchanged_and_a_quoted_cell_reads_back() -> None:
    assert [safe_cell(v) for v in (-5, 3.5, None, "SKU-1", "a=b", "")] == [
        -5,
        3.5,
        None,
        "SKU-1",
        "a=b",
        "",
    ]
    out = io.StringIO()
    csv.writer(out).writerow([safe_cell("\u200b=1+1")])
    assert next(csv.reader(io.StringIO(out.getvalue()))) == ["'\u200b=1+1"]
