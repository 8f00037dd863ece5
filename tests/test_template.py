from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.template import TemplateError, compile_template, placeholders, render


def test_placeholders_in_order_of_first_appearance_each_once() -> None:
    text = "Bonjour {first_name} de {city}, {first_name} !"
    assert placeholders(text) == ["first_name", "city"]


def test_names_may_be_any_header_text() -> None:
    assert placeholders("{prénom} {code postal} { ville }") == ["prénom", "code postal", "ville"]


def test_doubled_braces_are_literal() -> None:
    text = "{{not_a_field}} {x} }}"
    assert placeholders(text) == ["x"]
    assert render(text, ["x"], ["X"]) == "{not_a_field} X }"


def test_render_replaces_every_occurrence() -> None:
    text = "Bonjour {first_name} de {city}, {first_name} !"
    assert render(text, ["first_name", "city"], ["Ana", "Lyon"]) == "Bonjour Ana de Lyon, Ana !"


def test_values_follow_the_given_name_order() -> None:
    assert render("{a}-{b}", ["b", "a"], ["B", "A"]) == "A-B"


def test_a_value_with_braces_is_not_interpreted() -> None:
    assert render("Hi {name}", ["name"], ["{0} {name} }"]) == "Hi {0} {name} }"


def test_text_without_placeholders_takes_no_values() -> None:
    assert render("Votez {{demain}}", [], None) == "Votez {demain}"
    assert compile_template("plain")(None) == "plain"


def test_compiled_template_is_reusable() -> None:
    renderer = compile_template("Bonjour {n}")
    assert [renderer([name]) for name in ("A", "B")] == ["Bonjour A", "Bonjour B"]


@pytest.mark.parametrize(("text", "message"), [
    ("Bonjour {first_name", "unclosed '{' at position 9"),
    ("Bonjour {a {b}", "unclosed '{' at position 9"),
    ("Bonjour } toi", "single '}' at position 9"),
    ("Bonjour {} toi", "empty placeholder '{}' at position 9"),
    ("Bonjour {  } toi", "empty placeholder '{}' at position 9"),
])
def test_malformed_template_names_the_position(text: str, message: str) -> None:
    with pytest.raises(TemplateError, match="^" + re.escape(message)):
        placeholders(text)


def test_wrong_number_of_values_is_an_error() -> None:
    with pytest.raises(TemplateError, match="expected 2 values, got 1"):
        render("{a} {b}", ["a", "b"], ["A"])
    with pytest.raises(TemplateError, match="expected 1 values, got 0"):
        render("{a}", ["a"], None)
    with pytest.raises(TemplateError, match="expected no values, got 1"):
        render("plain", [], ["x"])


def test_placeholder_missing_from_names_is_an_error() -> None:
    with pytest.raises(TemplateError, match=r"placeholder \{city\} has no value"):
        compile_template("{name} {city}", ["name"])


@given(st.text())
def test_escaped_literal_text_round_trips(literal: str) -> None:
    escaped = literal.replace("{", "{{").replace("}", "}}")
    assert placeholders(escaped) == []
    assert render(escaped, [], None) == literal


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="{}"), min_size=1)
                .filter(str.strip).map(str.strip), min_size=1, max_size=5, unique=True),
       st.data())
def test_any_values_render_verbatim(names: list[str], data: st.DataObject) -> None:
    values = [data.draw(st.text()) for _ in names]
    text = "|".join(f"{{{name}}}" for name in names)
    assert placeholders(text) == names
    assert render(text, names, values) == "|".join(values)
