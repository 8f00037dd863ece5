"""A call in progress and the callbacks it posts, form-encoded — pure.

A Call lives from its placement to its final status (and until its last callback is
posted): the numbers are kept that long and no longer.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlencode

from dispatch.simulator.voice.plan import CallPlan
from dispatch.simulator.voice.request import MACHINE_DETECTION

GATHER = ""  # Callback.status of a keypress post
PROGRESS = frozenset(("initiated", "ringing", "in-progress"))  # statuses before the final


class Call:
    __slots__ = ("account", "action", "callback", "events", "line", "plan", "sequence",
                 "sid", "to")

    def __init__(self, sid: str, account: str, to: str, line: str, callback: str | None,
                 events: int, action: str | None, plan: CallPlan) -> None:
        self.sid = sid
        self.account = account
        self.to = to
        self.line = line
        self.callback = callback
        self.events = events
        self.action = action
        self.plan = plan
        self.sequence = 0  # SequenceNumber of the next status callback

    def status(self, status: str) -> Callback:
        """A status callback (the caller checked it was asked), numbered in order."""
        callback = Callback(self, status, self.sequence)
        self.sequence += 1
        return callback


class Callback(NamedTuple):
    call: Call
    status: str  # CallStatus, or GATHER
    sequence: int


def encode_callback(items: list[Callback]) -> bytes:
    """The form body of one callback (the poster sends them one to a POST)."""
    (item,) = items
    call = item.call
    fields = {"CallSid": call.sid, "AccountSid": call.account, "From": call.line,
              "To": call.to}
    if item.status == GATHER:
        fields["Digits"] = "9"
    else:
        fields.update(CallStatus=item.status, SequenceNumber=str(item.sequence),
                      Direction="outbound-api", ApiVersion="2010-04-01")
        if item.status not in PROGRESS:
            fields.update(call.plan.final_fields(bool(call.events & MACHINE_DETECTION)))
    return urlencode(fields).encode()
