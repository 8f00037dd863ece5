"""Message templates: `{placeholder}` parsing and rendering — pure.

`Bonjour {first_name}, votez le {date} !` has the placeholders first_name and date; `{{` and
`}}` stand for literal braces. A placeholder name is any text without braces, surrounding
spaces ignored, so CSV headers such as `prénom` or `code postal` can be used as they are.

Rendering happens once per message at send time, so a template is compiled once into a
`str.format` string with positional fields (C speed, and a value containing braces is never
interpreted) and the daemon keeps the compiled function.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

Renderer = Callable[[Sequence[str] | None], str]


class TemplateError(ValueError):
    """A malformed template or values that do not fit it; the message says where."""


def placeholders(text: str) -> list[str]:
    """The placeholder names of `text`, in order of first appearance, each once."""
    names: dict[str, None] = {}
    for part in _parse(text):
        if isinstance(part, _Field):
            names.setdefault(part.name)
    return list(names)


def compile_template(text: str, names: Sequence[str] | None = None) -> Renderer:
    """A function rendering `text` from values given in the order of `names`.

    `names` defaults to placeholders(text); values may be None when there are no names.
    """
    order = placeholders(text) if names is None else list(names)
    index = {name: i for i, name in enumerate(order)}
    pieces: list[str] = []
    for part in _parse(text):
        if isinstance(part, _Field):
            if part.name not in index:
                raise TemplateError(f"placeholder {{{part.name}}} has no value")
            pieces.append(f"{{{index[part.name]}}}")
        else:
            pieces.append(part.replace("{", "{{").replace("}", "}}"))
    return _renderer("".join(pieces), len(order))


def render(text: str, names: Sequence[str], values: Sequence[str] | None) -> str:
    """`text` with its placeholders replaced; the compiled template is cached per text."""
    return _cached(text, tuple(names))(values)


@functools.lru_cache(maxsize=256)
def _cached(text: str, names: tuple[str, ...]) -> Renderer:
    return compile_template(text, names)


def _renderer(fmt: str, count: int) -> Renderer:
    if count == 0:
        constant = fmt.format()

        def render_constant(values: Sequence[str] | None) -> str:
            if values:
                raise TemplateError(f"expected no values, got {len(values)}")
            return constant

        return render_constant

    def render_values(values: Sequence[str] | None) -> str:
        if values is None or len(values) != count:
            got = 0 if values is None else len(values)
            raise TemplateError(f"expected {count} values, got {got}")
        return fmt.format(*values)

    return render_values


class _Field:
    """A placeholder occurrence in a parsed template."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _parse(text: str) -> list[str | _Field]:
    """Literal text and fields, in order; raises TemplateError naming the position (1-based)."""
    parts: list[str | _Field] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in "{}" and text[i + 1:i + 2] == char:
            literal.append(char)
            i += 2
        elif char == "}":
            raise TemplateError(f"single '}}' at position {i + 1} "
                                f"(write '}}}}' for a literal brace)")
        elif char == "{":
            parts.append("".join(literal))
            literal = []
            end = _field_end(text, i)
            parts.append(_Field(text[i + 1:end].strip()))
            i = end + 1
        else:
            literal.append(char)
            i += 1
    parts.append("".join(literal))
    return [part for part in parts if part != ""]


def _field_end(text: str, start: int) -> int:
    """The index of the `}` closing the placeholder opened at `start`."""
    end = text.find("}", start + 1)
    nested = text.find("{", start + 1)
    if end < 0 or 0 <= nested < end:
        raise TemplateError(f"unclosed '{{' at position {start + 1} "
                            f"(write '{{{{' for a literal brace)")
    if not text[start + 1:end].strip():
        raise TemplateError(f"empty placeholder '{{}}' at position {start + 1}")
    return end
