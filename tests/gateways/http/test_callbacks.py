from __future__ import annotations

import pytest

from dispatch.gateways.http.callbacks import parse_inbound, parse_receipts
from dispatch.vocabulary import InboundMessage, Receipt


def test_final_statuses_map_to_state_codes_and_intermediate_ones_are_ignored() -> None:
    receipts, ignored = parse_receipts([
        {"id": "a", "status": "delivered"}, {"id": "b", "status": "UNDELIVERABLE",
                                             "error_code": "001"},
        {"id": "c", "status": "expired"}, {"id": "d", "status": "rejected"},
        {"id": "e", "status": "enroute"}])
    assert [(r.gateway_id, r.code) for r in receipts] == [("a", "d"), ("b", "f"), ("c", "x"),
                                                          ("d", "f")]
    assert receipts[1] == Receipt("b", "f", "receipt undeliverable, error 001")
    assert ignored == 1


def test_a_single_object_is_accepted() -> None:
    receipts, _ = parse_receipts({"id": "a", "status": "delivered"})
    assert receipts == [Receipt("a", "d", "receipt delivered, error ")]


@pytest.mark.parametrize(("payload", "message"), [
    ([1], "receipt 0: expected an object"),
    ([{"status": "delivered"}], "receipt 0: 'id' must be a non-empty string"),
    ([{"id": "a", "status": "delivered"}, {"id": "b"}], "receipt 1: 'status' must be a string"),
    ([{"id": "a", "status": "teleported"}], "receipt 0: unknown status 'teleported'"),
])
def test_bad_receipts_are_refused_with_the_reason(payload: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_receipts(payload)


def test_inbound_messages_are_parsed_and_bad_ones_named() -> None:
    assert parse_inbound({"from": "+33612345678", "to": "36111", "text": "STOP"}) == [
        InboundMessage("+33612345678", "36111", "STOP", "http")]
    with pytest.raises(ValueError, match="message 1: 'from', 'to' and 'text' must be strings"):
        parse_inbound([{"from": "a", "to": "b", "text": "c"}, {"from": "a"}])
