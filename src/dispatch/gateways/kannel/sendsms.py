"""Kannel's sendsms interface, as this gateway speaks it — no I/O: the id and coding of a
submission, the part count Kannel will send, and what its answers mean.

Kannel answers a sendsms with no message id, so the id a receipt is matched on is ours: a
digest of the message reference (stable across retries), carried in the dlr-url Kannel
calls back. It is made of hex digits only: Kannel reads every `%` in a dlr-url as one of
its escape codes (`%C3%A9` would become the charset and "3", "A9"), so nothing in it may be
percent-encoded.

A long text is cut by Kannel (bearerbox, 8-bit-reference UDH; the sendsms-user's
`max-messages` bounds the parts, and a text longer than that is silently truncated), and
only the first part asks the SMSC for a receipt: one final report per message.
"""

from __future__ import annotations

import hashlib
from typing import Final

from dispatch import text
from dispatch.vocabulary import Accepted, Rejected, Retry, SubmitResult

DEFAULT_PATH: Final = "/cgi-bin/sendsms"  # smsbox's sendsms-url unless configured
# Reports asked for: delivered (1), not delivered (2), refused by the SMSC after Kannel
# took the message (16). Queued (4) and taken by the SMSC (8) are not final: not asked.
DLR_MASK: Final = 1 | 2 | 16
CODING: Final = {text.GSM7: "0", text.UCS2: "2"}  # Kannel's coding: 0 7-bit, 2 UCS-2
CONFIG_RETRY_S: Final = 30.0  # credentials refused: messages wait, the operator is told
ANSWER_CHARS: Final = 120  # of Kannel's answer in a reason: it is one short line
AUTH_FAILED: Final = "Authorization failed"  # smsbox's answer to a wrong user or password


def correlation_id(reference: str) -> str:
    """The id the message's report comes back with: "k" and 20 hex digits."""
    return "k" + hashlib.blake2b(reference.encode(), digest_size=10).hexdigest()


def kannel_parts(message: str) -> int:
    """The parts Kannel sends for `message`. GSM-7 is cut as dispatch.text cuts it (153
    septets, an escape pair kept whole); UCS-2 by octets, 67 UTF-16 units a part, even
    through a surrogate pair (where dispatch.text may need one part more)."""
    info = text.analyse(message)
    if info.encoding == text.GSM7 or info.units <= text.SINGLE_PART[text.UCS2]:
        return info.parts
    per_part = text.MULTI_PART[(text.UCS2, False)]
    return -(-info.units // per_part)


def coding_of(message: str) -> str:
    """Kannel's `coding` for `message`: its text is always given in UTF-8."""
    return CODING[text.choose_encoding(message)]


def answer_result(status: int, body: str, gateway_id: str) -> SubmitResult:
    """What smsbox's answer to one sendsms means for the message."""
    answer = " ".join(body.split())[:ANSWER_CHARS] or "no answer text"
    reason = f"Kannel HTTP {status}: {answer}"
    if status == 202:  # "0: Accepted for delivery", "3: Queued for later delivery", "Sent."
        return Accepted(gateway_id)
    if status == 403 and answer.startswith(AUTH_FAILED):
        # A configuration error, not the message's: it waits until the operator fixes it.
        return Retry(reason, CONFIG_RETRY_S, counts=False, unsent=True)
    if status in (500, 503):
        # 503: bearerbox refused it (queue full, no SMSC up); 500: smsbox could not hand it
        # to bearerbox. Either way Kannel did not keep it.
        return Retry(reason, counts=False, unsent=True)
    if 400 <= status < 500:  # a field refused, "Not routable. Do not try again."
        return Rejected(reason)
    return Retry(reason)  # anything else: fate unknown
