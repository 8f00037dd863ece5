"""Campaigns: their status and their share of their pool's lines — pure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

# A campaign's status (meta field "status"; absent means active).
ACTIVE: Final = "active"
PAUSED: Final = "paused"
CANCELLED: Final = "cancelled"  # final: its unsent messages end cancelled


@dataclass(frozen=True)
class Share:
    """How a campaign shares its pool's lines with the others: a higher priority goes
    first; within one priority, lines are shared in proportion to weight."""

    weight: float = 1.0
    priority: int = 0

    @classmethod
    def checked(cls, weight: float, priority: int) -> Share:
        if not (math.isfinite(weight) and 0.01 <= weight <= 1000):
            raise ValueError(f"weight must be between 0.01 and 1000, got {weight}")
        if not -100 <= priority <= 100:
            raise ValueError(f"priority must be between -100 and 100, got {priority}")
        return cls(weight, priority)
