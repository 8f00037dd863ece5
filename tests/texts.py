"""Campaign texts that pass the enqueue lint, for tests about something else."""

from __future__ import annotations

from dispatch.enqueue import TextRules

SENDER = "Parti Test"
SIGNED = "Parti Test. STOP au 36111"  # names SENDER and says how to object
RULES = TextRules(sender=SENDER)  # what enqueue checks these texts against
