"""What the simulator took and owes, kept in a file (`--journal`) as a real gateway keeps
it in its store: every acceptance, and every receipt it will send, appended before the
answer that says so leaves. A simulator started again on the same journal takes up where
the last one stopped, so a kill (a fault drill, a failover test) loses nothing a real
operator's platform would keep:

- the references it accepted count as accepted (a message sent again is a duplicate), and
  an idempotency key it answered is answered again with the same id (a replay);
- every receipt it owed is sent again (those already sent arrive twice: the daemon counts
  them `repeated`).

One JSON array per line: ["accepted", reference, key or null, gateway id] (HTTP),
["recorded", reference] (SMPP), ["http_receipt", callback URL, gateway id, reference,
status], ["smpp_receipt", system_id, message id, outcome, submitted, preview, route].
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dispatch.simulator.smsc.receipts import ReceiptJob, Route


@dataclass
class PreviousLife:
    """What an earlier simulator on the same journal took and owed."""

    accepted: list[tuple[str, str | None, str]] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)
    http_receipts: list[tuple[str, str, str, str]] = field(default_factory=list)
    smpp_receipts: list[tuple[str, ReceiptJob]] = field(default_factory=list)


class Journal:
    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._pending: list[str] = []

    def accepted(self, reference: str, key: str | None, gateway_id: str) -> None:
        self._add(["accepted", reference, key, gateway_id])

    def recorded(self, reference: str) -> None:
        self._add(["recorded", reference])

    def http_receipt(self, callback_url: str, gateway_id: str, reference: str, status: str
                     ) -> None:
        self._add(["http_receipt", callback_url, gateway_id, reference, status])

    def smpp_receipt(self, system_id: str, job: ReceiptJob) -> None:
        self._add(["smpp_receipt", system_id, job.message_id, job.outcome, job.submitted,
                   job.preview, list(job.route)])

    def flush(self) -> None:
        """Write what was added (one small write to the page cache: it survives a kill of
        this process, which is what it is for)."""
        if self._pending:
            os.write(self._fd, ("\n".join(self._pending) + "\n").encode())
            self._pending.clear()

    def _add(self, record: list[Any]) -> None:
        self._pending.append(json.dumps(record, ensure_ascii=False))


def previous_life(path: str) -> PreviousLife:
    """What the journal at `path` holds (nothing when there is none yet). A line cut short
    by a kill mid-write is skipped: its answer never left."""
    life = PreviousLife()
    if not Path(path).exists():
        return life
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        _take(life, record)
    return life


def _take(life: PreviousLife, record: list[Any]) -> None:
    kind, *values = record
    if kind == "accepted":
        life.accepted.append((values[0], values[1], values[2]))
    elif kind == "recorded":
        life.recorded.append(values[0])
    elif kind == "http_receipt":
        life.http_receipts.append((values[0], values[1], values[2], values[3]))
    elif kind == "smpp_receipt":
        system_id, message_id, outcome, submitted, preview, route = values
        route_: Route = (route[0], route[1], route[2], route[3], route[4], route[5])
        life.smpp_receipts.append(
            (system_id, ReceiptJob(message_id, outcome, submitted, preview, route_)))
