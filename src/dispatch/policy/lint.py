"""Campaign text checks before sending: encoding, parts, cost, opt-out and sender — pure.

`lint_text` reports what `dispatch lint` prints and what enqueue checks:
- encoding (GSM-7 or UCS-2), the characters that forced UCS-2, units and parts
  (dispatch.text.analyse), and the cost: parts x price per part, x recipients;
- placeholders ({prenom}): the length varies per recipient, so parts and cost are the worst
  case (dispatch.policy.cost.worst_case: each value at its plausible length, and in UCS-2 if
  a value may force it), with a warning; enqueue replaces them by the exact count of the
  messages it queued (`LintReport.with_queued`);
- an opt-out mention, on the text with accents removed and case folded. Accepted forms:
  1. STOP, optionally followed by SMS or PUB, then optionally one of au, a, to, at, sur,
     par, @, :, =, -> and then a short code of 3 to 6 digits (spaces or dots allowed
     between digits): "STOP au 36111", "STOP SMS au 36 111", "Stop: 38200", "STOP 36111";
  2. a verb asking to answer STOP: répondez/répondre/réponds, envoyez/envoyer, tapez/taper,
     écrivez/écrire, reply, text, send, optionally followed by "par"/"with", then STOP
     (quotes allowed): "Répondez STOP", 'Reply "STOP"';
  3. "STOP SMS" or "STOP PUB" anywhere.
  A text without one is refused (error `missing_optout`) unless allowed;
- the sender's identity (`sender_identity`: --sender, else --client): the text must contain
  it (accents, case and punctuation ignored, whole words). Without one, or a text not naming
  it, the text is refused (`missing_sender`) unless allowed: nothing else shows that the
  text names who sends. `dispatch lint` and `dispatch enqueue` apply this same rule and say
  the same `refused_because` line.

An operator may override these two refusals (`allow_missing_optout`,
`allow_missing_sender`); `overridden` lists the codes a report accepted only because of an
override.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final, Literal

from dispatch.policy.cost import RenderedParts, WorstCase, worst_case
from dispatch.policy.keywords import normalise
from dispatch.template import TemplateError, compile_template, placeholders
from dispatch.text import UCS2, analyse

Severity = Literal["error", "warning"]
DEFAULT_PRICE_PER_PART: Final = Decimal("0.10")
CURRENCY: Final = "EUR"
MISSING_OPTOUT: Final = "missing_optout"
MISSING_SENDER: Final = "missing_sender"
PLACEHOLDERS: Final = "placeholders"
# What lets a refused text through, by refusal (any other refusal: fix the text).
OVERRIDE_OPTIONS: Final = {MISSING_OPTOUT: "--allow-missing-optout",
                           MISSING_SENDER: "--sender NAME or --allow-missing-sender"}

_CONNECTOR: Final = r"(?:au|a|to|at|sur|par|@|:|=|->|→)"
_OPTOUT_PATTERNS: Final = (
    re.compile(rf"\bstop\b(?:\s+(?:sms|pub)\b)?\s*{_CONNECTOR}?\s*\+?\d(?:[ .]?\d){{2,5}}(?!\d)"),
    re.compile(r"\b(?:repond(?:ez|re|s)|envoy(?:ez|er)|tap(?:ez|er)|ecri(?:vez|re)|reply|text"
               r"|send)\s+(?:(?:par|with)\s+)?\W{0,3}stop\b"),
    re.compile(r"\bstop\s+(?:sms|pub)\b"),
)
# Typographic characters that force UCS-2 and have a GSM-7 look-alike.
_GSM_SUBSTITUTES: Final[dict[str, str]] = {
    "’": "'", "‘": "'", "“": '"', "”": '"', "«": '"', "»": '"', "…": "...",
    "–": "-", "—": "-", "\u00a0": " ", "\u202f": " ",
}


@dataclasses.dataclass(frozen=True)
class Problem:
    code: str
    message: str
    severity: Severity
    overridden: bool = False  # a refusal an override turned into this warning

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "severity": self.severity}


class Verdict:
    """What a report's problems decide: the refusals, the overrides used, ok or not."""

    problems: tuple[Problem, ...]

    @property
    def overridden(self) -> tuple[str, ...]:
        """The refusals this report let through because an override allowed them."""
        return tuple(problem.code for problem in self.problems if problem.overridden)

    @property
    def refusals(self) -> tuple[Problem, ...]:
        return tuple(problem for problem in self.problems if problem.severity == "error")

    @property
    def ok(self) -> bool:
        """False when a problem refuses the campaign."""
        return not self.refusals


@dataclasses.dataclass(frozen=True)
class LintReport(Verdict):
    encoding: str  # the text's, placeholders left out
    forcing_chars: tuple[str, ...]
    parts: int  # per message: exact without placeholders, the worst case with them
    units: int  # the text's, placeholders left out
    placeholders: tuple[str, ...]
    price_per_part: Decimal
    recipients: int | None
    problems: tuple[Problem, ...]
    worst_case: WorstCase | None = None  # with placeholders
    queued: RenderedParts | None = None  # at enqueue: the exact parts of what it queued

    @property
    def cost_per_message(self) -> Decimal:
        return self.price_per_part * self.parts

    @property
    def cost(self) -> Decimal | None:
        """The campaign's cost: exact for the messages queued, else the estimate for the
        recipients given (None without)."""
        if self.queued is not None:
            return self.price_per_part * self.queued.parts
        return None if self.recipients is None else self.cost_per_message * self.recipients

    @property
    def cost_basis(self) -> str:
        """What `cost` counts: "queued" (exact), "worst_case" or "text" (exact per message)."""
        if self.queued is not None:
            return "queued"
        return "text" if self.worst_case is None else "worst_case"

    def with_queued(self, queued: RenderedParts) -> LintReport:
        """This report with the exact parts of the messages enqueue queued: the worst-case
        warning no longer applies."""
        kept = tuple(problem for problem in self.problems if problem.code != PLACEHOLDERS)
        return dataclasses.replace(self, recipients=queued.count, queued=queued,
                                   problems=kept)

    def to_json(self) -> dict[str, Any]:
        cost = self.cost
        return {
            "encoding": self.encoding, "forcing_chars": list(self.forcing_chars),
            "parts": self.parts, "units": self.units, "placeholders": list(self.placeholders),
            "worst_case": None if self.worst_case is None else self.worst_case.to_json(),
            "queued": None if self.queued is None else self.queued.to_json(),
            "cost": {"currency": CURRENCY, "price_per_part": str(self.price_per_part),
                     "per_message": str(self.cost_per_message), "recipients": self.recipients,
                     "total": None if cost is None else str(cost), "basis": self.cost_basis},
            "problems": [problem.to_json() for problem in self.problems], "ok": self.ok,
        }


def lint_text(text: str, *, sender: str | None = None,
              price_per_part: Decimal = DEFAULT_PRICE_PER_PART, recipients: int | None = None,
              allow_missing_optout: bool = False, allow_missing_sender: bool = False,
              lengths: Mapping[str, int] | None = None) -> LintReport:
    """Check a campaign text; see the module docstring for every rule. `lengths`: the
    length a placeholder is counted at, instead of dispatch.policy.cost's plausible one."""
    if price_per_part < 0 or (recipients is not None and recipients < 0):
        raise ValueError("price_per_part and recipients cannot be negative")
    problems: list[Problem] = []
    literal, names = _without_placeholders(text, problems)
    info = analyse(literal)
    worst = worst_case(text, names, lengths) if names else None
    problems += _placeholder_problems(worst)
    problems += _encoding_problems(info.encoding, info.forcing_chars)
    problems += _optout_problems(literal, allow_missing_optout)
    problems += _sender_problems(literal, sender, allow_missing_sender)
    parts = info.parts if worst is None else worst.parts
    return LintReport(info.encoding, info.forcing_chars, parts, info.units, names,
                      price_per_part, recipients, tuple(problems), worst)


def sender_identity(sender: str | None, client: str | None = None) -> str | None:
    """Who the text must name: the sender given, else the client (None: neither)."""
    return (sender or "").strip() or (client or "").strip() or None


def refused_because(refusals: Sequence[Problem]) -> str:
    """The line `dispatch lint` and `dispatch enqueue` both give for a refused text."""
    what = "; ".join(refusal.message for refusal in refusals)
    options = " / ".join(OVERRIDE_OPTIONS.get(refusal.code, "none") for refusal in refusals)
    return f"the text is refused: {what} (fix the text, or override: {options})"


def has_optout_mention(text: str) -> bool:
    """Does `text` tell how to object (one of the forms of the module docstring)?"""
    folded = fold(text)
    return any(pattern.search(folded) for pattern in _OPTOUT_PATTERNS)


def names_sender(text: str, sender: str) -> bool:
    """Does `text` contain `sender` as whole words, ignoring accents, case and punctuation?"""
    wanted = " ".join(normalise(sender).split())
    if not wanted:
        raise ValueError(f"sender {sender!r} has no letter or digit")
    return f" {wanted} " in f" {' '.join(normalise(text).split())} "


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _without_placeholders(text: str, problems: list[Problem]) -> tuple[str, tuple[str, ...]]:
    """The text with placeholders removed, and their names; a bad template is a problem."""
    try:
        names = tuple(placeholders(text))
        literal = compile_template(text)([""] * len(names))
    except TemplateError as exc:
        problems.append(Problem("bad_template", f"malformed placeholder: {exc}", "error"))
        return text, ()
    if not text.strip():
        problems.append(Problem("empty", "the text is empty", "error"))
    return literal, names


def _placeholder_problems(worst: WorstCase | None) -> list[Problem]:
    if worst is None:
        return []
    listed = ", ".join(f"{{{name}}} at {length} characters" for name, length in worst.lengths)
    ucs2 = " and in UCS-2" if worst.ucs2 is not None and worst.ucs2 > worst.most else ""
    return [Problem(PLACEHOLDERS, f"the length varies per recipient: parts and cost are the "
                    f"worst case ({listed}{ucs2}; --placeholder-length NAME=N to change); "
                    f"dispatch enqueue counts them exactly", "warning")]


def _encoding_problems(encoding: str, forcing: tuple[str, ...]) -> list[Problem]:
    if encoding != UCS2:
        return []
    swaps = [f"{c} -> {_GSM_SUBSTITUTES[c]}" for c in forcing if c in _GSM_SUBSTITUTES]
    hint = f"; replace {', '.join(swaps)} to stay in GSM-7" if swaps else ""
    return [Problem("ucs2", f"UCS-2 (70 characters per part instead of 160) because of "
                    f"{' '.join(forcing)}{hint}", "warning")]


def _optout_problems(text: str, allowed: bool) -> list[Problem]:
    if has_optout_mention(text):
        return []
    return [refusal(MISSING_OPTOUT, "no opt-out mention: add e.g. 'STOP au 36xxx' with "
                     "your short code, or 'Répondez STOP'", allowed)]


def _sender_problems(text: str, sender: str | None, allowed: bool) -> list[Problem]:
    if sender is None:
        return [refusal(MISSING_SENDER, "no sender identity given: nothing shows that "
                         "the text names who sends it", allowed)]
    if names_sender(text, sender):
        return []
    return [refusal(MISSING_SENDER, f"the text does not name the sender {sender!r}", allowed)]


def refusal(code: str, message: str, allowed: bool) -> Problem:
    """A refusal, or a warning saying an override let it through."""
    if allowed:
        return Problem(code, message + " (allowed by override)", "warning", overridden=True)
    return Problem(code, message, "error")
