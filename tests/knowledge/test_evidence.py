"""The evidence rule: numbers, fees, day counts and addresses in published texts must be in a quote."""

import pytest

from app.knowledge.evidence import backing_numbers, claims, unbacked


@pytest.mark.parametrize(("text", "kind"), [
    ("Llama al 800 5533 000", "phone number"),
    ("Tienes 14 días para pedirlo", "number of days"),
    ("within 30 working days", "number of days"),
    ("nan 15 jou", "number of days"),
    ("Cuesta US$ 40", "fee"),
    ("the fee is 250 dollars", "fee"),
    ("Av. George Washington 662, Santo Domingo", "address"),
    ("Calle 10 No. 167", "address"),
])
def test_each_kind_of_claim_is_named(text: str, kind: str) -> None:
    assert kind in {c.kind for c in claims(text)}


def test_digits_match_without_spaces_dashes_or_calling_code() -> None:
    backed = backing_numbers(["Línea contra la trata 800-5533-000, gratuita.", "teléfono 2411-2411"])
    assert unbacked("Llama al 800 5533 000 o al +502 2411 2411", backed) == []
    assert [c.text for c in unbacked("Llama al 800 5533 001", backed)] == ["800 5533 001"]


def test_a_number_inside_a_longer_number_is_not_backed_by_it() -> None:
    assert [c.digits for c in unbacked("14 días", backing_numbers(["Decreto 44501-MGP de 2024"]))] == ["14"]


def test_web_addresses_are_not_claims() -> None:
    assert claims("Info: https://help.unhcr.org/page/1675 y www.gob.mx/comar/2024") == []


def test_published_emergency_numbers_back_a_text() -> None:
    assert unbacked("En peligro llama al 911.", backing_numbers([], ["911"])) == []


def test_numbers_that_run_together_in_a_quote_back_each_part() -> None:
    backed = backing_numbers(["Oficina central: 12 avenida 12-72, zona 1 1555 línea gratuita"])
    assert unbacked("En la zona 1. Llama al 1555.", backed) == []
