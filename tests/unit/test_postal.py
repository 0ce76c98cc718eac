"""Postal codes against their country's shape (Google's address data), on plain strings."""

from __future__ import annotations

import pytest

from chalicelib.domain.postal import normalized, postal_code_problem


@pytest.mark.parametrize(
    ("country", "code"),
    [
        ("DE", "10115"),
        ("NL", "1012 JS"),
        ("NL", "1012JS"),
        ("GB", "EC1A 1HQ"),
        ("US", "95014-1010"),
        ("PL", "00-950"),
        ("IE", "A65 F4E2"),
        ("CA", "H3Z 2Y7"),
        ("AE", "00000"),  # no postal codes: any placeholder
        ("DE", " 10115 "),  # judged normalized
        ("DE", "10115\n"),
    ],
)
def test_a_code_of_its_countrys_shape_passes(country, code):
    assert postal_code_problem(country, code) is None


@pytest.mark.parametrize(
    ("country", "code"),
    [
        ("DE", "1011"),
        ("DE", ""),
        ("NL", "1012"),
        ("NL", "1012 SA"),  # SA, SD and SS are not given out
        ("GB", "12345"),
        ("US", "9501"),
        ("PL", "00950"),
        ("CA", "D3Z 2Y7"),
    ],
)
def test_a_code_of_another_shape_is_named_with_its_country_and_examples(country, code):
    problem = postal_code_problem(country, code)
    assert problem is not None and f"not a {country} " in problem and "e.g." in problem


def test_codes_normalize_to_upper_case_with_single_spaces_and_unknown_countries_are_not_judged():
    assert normalized("  ec1a   1hq ") == "EC1A 1HQ"
    assert postal_code_problem("QQ", "anything") is None  # the country is reported on its own
