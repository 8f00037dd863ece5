"""What the daemon answers to an MO, and with which text — pure.

Two answers exist, both built from configured texts only (never campaign content):
- HELP, INFO, AIDE: who sends and how to object (`help_text`);
- an opt-out: one confirmation (`optout_text`, when `confirm_optout`). Whether the opt-out is
  new (a repeated STOP gets no second confirmation) is decided where it is recorded, in the
  same atomic write (store/lua/optout_change.lua).
Opting back in (START) and plain replies get no answer.

Placeholders: {identity} (who runs the line, `identity`), {client} (the senders named by the
campaigns that wrote to the number, else {identity}) and {line} (the number the MO was sent
to; the answer goes out from it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from dispatch.policy.keywords import Intent
from dispatch.template import TemplateError, compile_template, placeholders

DEFAULT_OPTOUT_TEXT: Final = "Vous ne recevrez plus de messages de ce numéro."
HELP: Final = "help"
OPTOUT_CONFIRMATION: Final = "optout_confirmation"
FIELDS: Final = ("identity", "client", "line")


@dataclass(frozen=True)
class AnswerTexts:
    identity: str
    help_text: str
    optout_text: str
    confirm_optout: bool = True

    def __post_init__(self) -> None:
        for name in ("help_text", "optout_text"):
            check_text(name, getattr(self, name))

    def reason_for(self, intent: Intent) -> str | None:
        """Which answer an MO of this intent gets, if any."""
        if intent is Intent.HELP:
            return HELP
        if intent is Intent.OPT_OUT and self.confirm_optout:
            return OPTOUT_CONFIRMATION
        return None

    def text(self, reason: str, line: str, clients: Sequence[str] = ()) -> str:
        """The answer's text for `reason`, sent from `line` to a number that `clients`
        (sender identities, in order) wrote to."""
        template = self.help_text if reason == HELP else self.optout_text
        named = ", ".join(dict.fromkeys(c for c in clients if c)) or self.identity
        values = {"identity": self.identity, "client": named, "line": line}
        return compile_template(template, FIELDS)([values[name] for name in FIELDS])


def check_text(name: str, text: str) -> None:
    """ValueError naming `name` for an empty text or a placeholder other than FIELDS."""
    if not text.strip():
        raise ValueError(f"{name}: the text is empty")
    try:
        unknown = [p for p in placeholders(text) if p not in FIELDS]
    except TemplateError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if unknown:
        raise ValueError(f"{name}: unknown placeholder {{{unknown[0]}}} (known: "
                         f"{', '.join('{' + f + '}' for f in FIELDS)})")
