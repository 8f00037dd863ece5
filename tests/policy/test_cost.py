"""SMS parts of rendered messages: the exact count at enqueue, the worst case at lint."""

from __future__ import annotations

import random

import pytest

from dispatch.gateways.smpp.submit import part_count
from dispatch.policy.cost import (
    DEFAULT_LENGTH,
    RenderedParts,
    grouped,
    plausible_length,
    worst_case,
)
from dispatch.template import compile_template, placeholders
from dispatch.text import analyse

# 157 characters besides {prenom}: one part for "Léa", two for any longer first name.
TEXT_157 = ("Bonjour {prenom}, Parti Test vous attend dimanche à 9h place de la Mairie pour le "
            "grand meeting de fin de campagne. Venez nombreux avec tous vos amis ! STOP au "
            "36111")


def sizer(text: str) -> RenderedParts:
    return RenderedParts(text, placeholders(text))


def test_the_157_character_text_plus_a_first_name_is_two_parts() -> None:
    assert len(TEXT_157) - len("{prenom}") == 157
    parts = sizer(TEXT_157)
    assert parts.size(["Léa"]) == (1, "gsm7")
    assert parts.size(["Camille"]) == (2, "gsm7")
    assert parts.size(["Marie-Emmanuelle"]) == (2, "gsm7")


def test_a_value_outside_gsm7_makes_its_message_ucs2() -> None:
    parts = sizer(TEXT_157)
    assert parts.size(["François"]) == (3, "ucs2")  # 165 UTF-16 units: 67 + 67 + 31
    assert parts.size(["Jérôme"]) == (3, "ucs2")
    assert list(parts.outside_gsm7) == ["ç", "ô"]
    assert parts.size(["Hélène"]) == (2, "gsm7")  # é and è are GSM-7


def test_a_text_without_placeholders_has_one_size() -> None:
    parts = sizer("Parti Test vous attend. STOP au 36111")
    assert parts.size(None) == parts.size([]) == (1, "gsm7")


@pytest.mark.parametrize("text", [
    TEXT_157,
    "{prenom} {nom}, " + "votez ! " * 18 + "{prenom} STOP",  # a placeholder twice
    "Ça coûte 5 € {prenom} " + "x" * 140,  # an escape pair in the text: always rendered
    "Êtes-vous prête {prenom} ? " + "y" * 45,  # a UCS-2 text
    "Allez 🗳 {prenom} " + "z" * 50,  # a surrogate pair in the text: always rendered
])
def test_sizes_are_those_of_the_rendered_message(text: str) -> None:
    """Sized without rendering where possible: always what rendering and cutting gives,
    and what the SMPP gateway submits."""
    names = placeholders(text)
    render = compile_template(text, names)
    parts = RenderedParts(text, names)
    pool = ["A", "Léa", "Marie-Emmanuelle", "x" * 30, "François", "ΔΦΓ", "€uro", "🎉",
            "Noël", "[x]", "Çà et là", "ñandú", "ç€", "🎉ç"]
    rng = random.Random(15)
    for _ in range(500):
        values = [rng.choice(pool) * rng.randint(1, 4) for _ in names]
        info = analyse(render(values))
        assert parts.size(values) == (info.parts, info.encoding), values
        assert info.parts == part_count(render(values))


def test_queued_messages_add_up_by_size() -> None:
    parts = sizer(TEXT_157)
    parts.queued((2, "gsm7"), 1_000)
    parts.queued((3, "ucs2"), 10)
    parts.queued((1, "gsm7"), 5)
    parts.queued((2, "gsm7"), 500)
    parts.queued((2, "ucs2"), 0)
    assert (parts.count, parts.parts, parts.ucs2) == (1_515, 3_035, 10)
    assert parts.by_parts() == [(1, 5), (2, 1_500), (3, 10)]
    assert parts.to_json() == {
        "messages": 1_515, "parts": 3_035, "ucs2_messages": 10, "values_outside_gsm7": [],
        "by_parts": [{"parts": 1, "messages": 5}, {"parts": 2, "messages": 1_500},
                     {"parts": 3, "messages": 10}]}


def test_grouped_keeps_order_and_one_batch_for_one_size() -> None:
    small, large = (1, "gsm7"), (2, "gsm7")
    assert grouped(["a", "b"], [small, small]) == [(small, ["a", "b"])]
    assert grouped(["a", "b", "c", "d"], [large, small, large, small]) == [
        (large, ["a", "c"]), (small, ["b", "d"])]
    assert grouped([], []) == []


def test_plausible_lengths_by_name() -> None:
    assert plausible_length("Prénom") == plausible_length("first_name") == 20
    assert plausible_length("nom") == 30
    assert plausible_length("Ville") == 45
    assert plausible_length("code postal") == 5
    assert plausible_length("bureau") == DEFAULT_LENGTH
    assert plausible_length("prénom", {"prénom": 12}) == 12


def test_worst_case_in_the_texts_encoding_and_in_ucs2() -> None:
    worst = worst_case(TEXT_157, ["prenom"])
    assert (worst.lengths, worst.fewest, worst.most, worst.units, worst.ucs2) == (
        (("prenom", 20),), 1, 2, 177, 3)
    assert worst.parts == 3
    assert worst_case(TEXT_157, ["prenom"], {"prenom": 3}).most == 1


def test_worst_case_of_a_ucs2_text_has_no_separate_ucs2_case() -> None:
    worst = worst_case("Êtes-vous prête {prenom} ?", ["prenom"])
    assert (worst.ucs2, worst.units, worst.parts) == (None, 18 + 20, 1)


def test_a_length_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        worst_case(TEXT_157, ["prenom"], {"prenom": 0})
