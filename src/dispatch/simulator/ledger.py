"""What the simulated gateway accepted: idempotency, duplicate counting, counters — pure.

Memory matters (a million messages must stay well under 300 MB), so the ledger keeps no
message text and no gateway-id strings: one dict entry per idempotency key whose value packs
the gateway id counter with one flag bit, "this key is also the message's reference".
The daemon uses key == reference, so its messages cost one dict entry each; references
accepted under another key (or none) go into a separate set.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from dispatch.simulator.config import OUTCOME_NAMES
from dispatch.simulator.journal import Journal


class Ledger:
    """Accepts messages by reference and replays answers by idempotency key."""

    def __init__(self, id_prefix: str | None = None, journal: Journal | None = None) -> None:
        self.journal = journal  # where acceptances are kept for a restart (journal.py)
        self._restored_ids: dict[str, str] = {}  # key -> id, answered by an earlier life
        # A per-run prefix keeps ids unique across simulator restarts.
        self._prefix = id_prefix if id_prefix is not None else secrets.token_hex(4)
        self._counter = 0
        self._by_key: dict[str, int] = {}  # key -> (counter << 1) | key_is_reference
        self._other_refs: set[str] = set()  # references accepted under key != reference
        self.accepted = 0  # distinct references accepted
        self.duplicates = 0  # acceptances of an already accepted reference
        self.replays = 0  # submissions answered from the idempotency map

    def submit(self, reference: str, key: str | None) -> tuple[str, bool]:
        """The gateway id for this submission and whether it was accepted now
        (False: a replay of an earlier acceptance under the same key)."""
        if key is not None:
            packed = self._by_key.get(key)
            if packed is not None:
                self.replays += 1
                return self._format(packed >> 1), False
            if key in self._restored_ids:
                self.replays += 1
                return self._restored_ids[key], False
        gateway_id = self._format(self._accept(reference, key))
        if self.journal is not None:
            self.journal.accepted(reference, key, gateway_id)
        return gateway_id, True

    def restore(self, reference: str, key: str | None = None, gateway_id: str = "") -> None:
        """An acceptance of an earlier life (journal.py): counted again, its key answered
        with its id."""
        self._count(reference, None)  # its key's entry is not in _by_key: mark it here
        if key is not None:
            self._restored_ids[key] = gateway_id

    def is_accepted(self, reference: str) -> bool:
        return reference in self._other_refs or bool(self._by_key.get(reference, 0) & 1)

    def record(self, reference: str) -> bool:
        """Count one acceptance of `reference` without an idempotency key (SMPP has none):
        True if it is the first, False if it is a duplicate."""
        if self.journal is not None:
            self.journal.recorded(reference)
        # is_accepted, inline: this is the SMSC's hot path (the key map is empty over SMPP).
        if reference in self._other_refs or (self._by_key
                                             and self._by_key.get(reference, 0) & 1):
            self.duplicates += 1
            return False
        self.accepted += 1
        self._other_refs.add(reference)
        return True

    def flush(self) -> None:
        """Before answering: the journal (if any) holds every acceptance made so far."""
        if self.journal is not None:
            self.journal.flush()

    def next_id(self) -> str:
        """A new gateway id, unique in this run and across runs (hex digits only)."""
        self._counter += 1
        return self._format(self._counter)

    def _count(self, reference: str, key: str | None) -> bool:
        """One acceptance of `reference`: True if it is the first. Under a key equal to
        the reference, the key's entry marks it accepted (see the module's text)."""
        if self.is_accepted(reference):
            self.duplicates += 1
            return False
        self.accepted += 1
        if key != reference:
            self._other_refs.add(reference)
        return True

    def _accept(self, reference: str, key: str | None) -> int:
        self._count(reference, key)
        self._counter += 1
        if key is not None:
            self._by_key[key] = (self._counter << 1) | (key == reference)
        return self._counter

    def _format(self, counter: int) -> str:
        return f"{self._prefix}{counter:010x}"


@dataclass
class GatewayCounters:
    """Per-request counters of the HTTP front; the ledger and the receipt poster keep theirs."""

    requests: int = 0  # POSTs to /sms and /sms/batch
    submissions: int = 0  # single requests and batch items processed (not faulted)
    rejected_invalid: int = 0
    throttled: int = 0  # injected 429
    server_errors: int = 0  # injected 5xx, whatever the status
    server_errors_by_status: dict[str, int] = field(default_factory=dict)
    lost_responses: int = 0
    line_violations: int = 0  # messages over their sender's --line-rate (accepted anyway)
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOME_NAMES, 0))

    def count_server_error(self, status: int) -> None:
        self.server_errors += 1
        key = str(status)
        self.server_errors_by_status[key] = self.server_errors_by_status.get(key, 0) + 1
