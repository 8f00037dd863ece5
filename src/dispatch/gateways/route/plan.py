"""Which member of a route a message goes to — pure.

A route lists its members in order of preference, or gives them weights; numbers that
start with one of its prefixes use that prefix's members instead (the longest prefix
that matches). For one message, `RoutePlan.order` gives the members to try, best first:
- in order: the members as listed;
- by weight: first one drawn in proportion to the weights of those in service, the draw
  fixed by the message's reference (the same message is always drawn to the same member
  while the same members are in service), then the others as listed.
Members out of service come last: a message goes to one of them only when none is in.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RoutePlan:
    members: tuple[str, ...]
    weights: Mapping[str, int] = field(default_factory=dict)
    # Prefix without its "+" -> members for numbers that start with it.
    prefixes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, members: tuple[str, ...], weights: Mapping[str, int],
           prefixes: Mapping[str, tuple[str, ...]]) -> RoutePlan:
        """From the settings' keys (prefixes written "+262")."""
        return cls(members, dict(weights),
                   {prefix.lstrip("+"): chosen for prefix, chosen in prefixes.items()})

    @property
    def every_member(self) -> tuple[str, ...]:
        """Every gateway the route may send through, each once."""
        named = list(self.members)
        for chosen in self.prefixes.values():
            named.extend(member for member in chosen if member not in named)
        return tuple(named)

    def candidates(self, to: str) -> tuple[str, ...]:
        """The members for the number `to` (E.164, with or without its "+")."""
        digits = to.lstrip("+")
        best = max((prefix for prefix in self.prefixes if digits.startswith(prefix)),
                   key=len, default=None)
        return self.members if best is None else self.prefixes[best]

    def order(self, reference: str, to: str, in_service: Callable[[str], bool]
              ) -> list[str]:
        """The members to try for a message, best first (see the module's text)."""
        candidates = self.candidates(to)
        serving = [member for member in candidates if in_service(member)]
        resting = [member for member in candidates if not in_service(member)]
        if self.weights and candidates is self.members and len(serving) > 1:
            drawn = self._draw(reference, serving)
            serving.remove(drawn)
            serving.insert(0, drawn)
        return serving + resting

    def _draw(self, reference: str, serving: list[str]) -> str:
        total = sum(self.weights[member] for member in serving)
        point = zlib.crc32(reference.encode()) % total
        for member in serving:
            point -= self.weights[member]
            if point < 0:
                return member
        return serving[-1]  # unreachable: the points add up to total
