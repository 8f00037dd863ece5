"""Long messages some of whose parts the SMSC accepted — pure.

Parts of a concatenated SMS are separate submissions: the SMSC may accept part 1 and
throttle part 2. Resending the whole message would deliver part 1 twice, so the parts
built the first time (same concatenation reference, so the handset joins them) and the
ones accepted are kept, and a retry of that message sends only the parts still missing.
Held in memory, bounded (least recently used first out): a daemon crash, or an eviction,
resends the whole message — the in-flight window of SMPP, stated in the gateway docs.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Final

from dispatch.gateways.smpp.batch import SubmitPart
from dispatch.vocabulary import Accepted, SubmitResult

MAX_HELD: Final = 100_000


@dataclass(slots=True)
class PartialMessage:
    pdus: list[SubmitPart]
    accepted: dict[int, Accepted] = field(default_factory=dict)

    def missing(self) -> list[int]:
        if not self.accepted:  # a message sent for the first time (nearly all)
            return list(range(len(self.pdus)))
        return [i for i in range(len(self.pdus)) if i not in self.accepted]


class PartialMessages:
    def __init__(self, max_held: int = MAX_HELD) -> None:
        self._held: OrderedDict[str, PartialMessage] = OrderedDict()
        self._max_held = max_held

    def __len__(self) -> int:
        return len(self._held)

    def take(self, reference: str) -> PartialMessage | None:
        """The message as first sent, if some of its parts were accepted."""
        return self._held.pop(reference, None)

    def settle(self, reference: str, message: PartialMessage,
               results: dict[int, SubmitResult | None]) -> list[SubmitResult | None]:
        """Record this attempt's results (by part index); the results of every part, and
        keep the message if some parts are accepted and others still to be sent."""
        for index, result in results.items():
            if isinstance(result, Accepted):
                message.accepted[index] = result
        parts: list[SubmitResult | None] = [
            message.accepted.get(i, results.get(i)) for i in range(len(message.pdus))]
        if message.accepted and message.missing():
            self._keep(reference, message)
        return parts

    def _keep(self, reference: str, message: PartialMessage) -> None:
        self._held[reference] = message
        while len(self._held) > self._max_held:
            self._held.popitem(last=False)
