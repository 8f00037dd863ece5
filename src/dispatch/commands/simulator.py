"""`dispatch simulator`: run the gateway simulators until SIGINT/SIGTERM: the HTTP SMS
gateway, and with `--smpp-port` an SMPP 3.4 SMSC beside it (one ledger, one /stats).

Once listening it prints one JSON line, `{"http_port": N, "smpp_port": M}` (M is null
without `--smpp-port`), for scripts to read. On a signal it stops accepting, closes the
SMPP connections cleanly, sends the receipts still pending for at most the shutdown grace
period (unsent ones are reported on stderr), and exits 0.

The voice side (the Calls API of docs/VOICE.md) is always served on the HTTP port: calls
are answered by humans or machines, ring out, are busy or fail in the `--call-outcomes`
mix, a `--dtmf-rate` share of the humans press 9, and GET /stats shows its book under
`voice` (see dispatch.simulator.voice). So is the Messages API of the `twilio` gateway
kind (docs/gateways/twilio.md), with the same accounts (`--twilio-account` is
`--voice-account`): SMS in the `--outcomes` mix with signed status callbacks, MO posted
to the numbers' inbound webhook (`POST /twilio/mo`), its book under `twilio`.

`--profile NAME` (see dispatch.simulator.profiles) sets defaults; flags given explicitly
override them. `--reply-share P` makes that share of recipients answer (`--reply-text`,
STOP by default), over HTTP to the daemon's MO webhook and over SMPP as MO deliver_sm; GET
/stats then shows `replies`, `sent_after_stop` and `confirmations` (see
dispatch.simulator.replies).

`--lean` runs the SMSC's lean mode (dispatch.simulator.smsc.lean), the one `dispatch bench`
uses: answers, standard receipts and the ledger's counts at a few microseconds of CPU per
message; the flags it does without (faults, latency, bind rates, MO, replies) are refused.

`POST /mo` on the HTTP port injects MO (a recipient's STOP, say): over SMPP when the SMSC
runs and can take them, else over HTTP to the daemon's /inbound; the body and answers are
in MO_HELP below (and dispatch.simulator.mo).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import trio

from dispatch.commands.common import UserError
from dispatch.gc_tuning import tune_for_batches
from dispatch.logs import LOG_FORMATS, LOG_LEVELS, setup
from dispatch.policy.answers import DEFAULT_OPTOUT_TEXT
from dispatch.simulator.config import (
    CALL_MIX,
    DEFAULT_CALL_OUTCOMES_TEXT,
    DEFAULT_OUTCOMES_TEXT,
    SimulatorConfig,
    SimulatorConfigError,
    parse_outcome_mix,
)
from dispatch.simulator.profiles import PROFILES, profile_defaults
from dispatch.simulator.service import Simulator

MO_HELP = """\
POST /mo (HTTP port): inject MO, i.e. a recipient's message to a line.
  body: {"from": "+33612345678", "to": "36111", "text": "STOP"}, or a list of 1..1000;
        optional "system_id" per message (SMPP only).
  SMPP, when --smpp-port is given and a receiver is bound (or every message names a
        system_id, held until it binds): deliver_sm; 202 {"messages": N, "parts": P}.
  HTTP otherwise, when an MO URL is known (--mo-url, or /inbound beside the callback URL
        of the latest message accepted with one): posted as [{"from","to","text"}];
        202 {"messages": N, "url": URL}.
  409: no receiver bound and no MO URL known. 400: names the message and field at fault.
  Opt-outs injected either way count for sent_after_stop in GET /stats.
POST /twilio/mo (HTTP port): the same body, posted to the Messages API's inbound webhook
  (--twilio-inbound-url, or beside the latest StatusCallback) as the provider posts it,
  signed with the account's token; 202 {"messages": N, "url": URL}; 409 before any is
  known. A STOP unsubscribes the pair at the provider: later messages get 400 21610."""

# (flag, converter name, default, help); values are converted here, not by argparse, so a
# bad value is one line on stderr (UserError), not a usage dump. Every flag's destination
# is the SimulatorConfig field of the same name.
_FLAGS: tuple[tuple[str, str, str, str], ...] = (
    ("--host", "str", "127.0.0.1", "address to listen on"),
    ("--http-port", "int", "8480", "port to listen on; 0 = any free port"),
    ("--latency-ms", "float", "0", "fixed extra response latency"),
    ("--latency-jitter-ms", "float", "0", "uniform random extra latency on top"),
    ("--error-429", "float", "0", "probability of a 429 throttled answer"),
    ("--error-5xx", "float", "0", "probability of a 500/502/503 answer"),
    ("--lost-response", "float", "0",
     "probability that a request is accepted but answered 504 anyway (lost answer)"),
    ("--receipt-delay-ms", "float", "200", "delay between acceptance and receipt"),
    ("--receipt-jitter-ms", "float", "0", "uniform random extra receipt delay"),
    ("--outcomes", "outcomes", DEFAULT_OUTCOMES_TEXT, "receipt status mix, NAME=WEIGHT,..."),
    ("--receipt-batch", "int", "200", "receipts per callback POST, at most"),
    ("--seed", "seed", "", "seed of the random generator; absent = random"),
    ("--journal", "str", "",
     "file keeping what the simulator took and owes (acceptances, idempotency keys, "
     "receipts), written before each answer: started again on it, a killed simulator "
     "takes up where it stopped, as an operator's platform would"),
    # The SMSC.
    ("--smpp-port", "port", "", "SMPP port; 0 = any free port; absent = no SMSC"),
    ("--smpp-window", "int", "100", "outstanding requests per bind before ESME_RMSGQFUL"),
    ("--smpp-bind-rate", "float", "0", "submit_sm/s per bind, 0 = unlimited"),
    ("--line-rate", "float", "0",
     "messages/s per source address (line), 0 = unlimited; over it: a line violation "
     "(SMPP: answered ESME_RTHROTTLED; HTTP: accepted, only counted)"),
    ("--line-burst", "float", "0", "line bucket size; 0 = one second of --line-rate"),
    ("--throttle-rate", "float", "0", "probability of ESME_RTHROTTLED regardless of rates"),
    ("--smpp-latency-ms", "float", "0", "submit_sm_resp latency"),
    ("--smpp-latency-jitter-ms", "float", "0", "uniform random extra latency on top"),
    ("--no-response", "float", "0", "probability a submit_sm is ignored (never answered)"),
    ("--smpp-error", "float", "0", "probability of answering --smpp-error-status"),
    ("--smpp-error-status", "status", "0x08", "command_status of injected errors"),
    ("--receipt-format", "str", "standard",
     "receipt dialect: standard, long-dates, capital-text, hex-ids, no-text"),
    ("--smpp-receipt-timeout-s", "float", "10", "deliver_sm unanswered this long is resent"),
    ("--smpp-receipt-attempts", "int", "10", "deliver_sm attempts before giving up"),
    ("--receipts-pending-limit", "int", "200000",
     "deliver_sm due and waiting for room in a receiver's window, at most (a memory guard; "
     "one more is counted in receipts_dropped)"),
    ("--mo-rate", "float", "0", "MO messages per second to bound receivers"),
    ("--mo-text", "str", "STOP", "text of the MO sent at --mo-rate"),
    ("--disconnect-after", "int", "0", "close every SMPP connection after N accepted submit_sm"),
    ("--disconnect-every", "int", "0", "... and again after every N more"),
    ("--smpp-enquire-link-s", "float", "0", "server enquire_link period, 0 = never"),
    # Recipients who reply (both protocols).
    ("--reply-share", "float", "0",
     "share of distinct recipients who reply (0..1; decided per number, reproducible "
     "with --seed); only delivered messages are answered, once per sender line"),
    ("--reply-text", "str", "STOP", "text of the replies"),
    ("--reply-delay-ms", "float", "200", "delay between a message's receipt and its reply"),
    ("--reply-jitter-ms", "float", "0", "uniform random extra reply delay"),
    ("--mo-url", "str", "",
     "HTTP MO webhook for replies and POST /mo; absent = each message's callback URL "
     "with the path /inbound"),
    ("--callback-secret", "str", "",
     "secret shared with the daemon (its gateway's inbound_secret): receipts and replies "
     "posted to it are signed with it; absent = $DISPATCH_SIMULATOR_CALLBACK_SECRET, else "
     "unsigned"),
    ("--confirmation-text", "str", DEFAULT_OPTOUT_TEXT,
     "text of an opt-out confirmation: one per number and line is counted in "
     "`confirmations`, not in `sent_after_stop`"),
    # The voice side (always served on the HTTP port).
    ("--call-outcomes", "call_outcomes", DEFAULT_CALL_OUTCOMES_TEXT,
     "call outcome mix, NAME=WEIGHT,... (human, machine, no_answer, busy, failed, invalid)"),
    ("--call-ring-ms", "float", "5000", "mean ring time before a call is answered or rings out"),
    ("--call-ring-jitter-ms", "float", "0",
     "uniform jitter either side of the ring time (at most --call-ring-ms)"),
    ("--call-duration-ms", "float", "30000", "mean time an answered call stays connected"),
    ("--call-duration-jitter-ms", "float", "0",
     "uniform jitter either side of the duration (at most --call-duration-ms)"),
    ("--dtmf-rate", "float", "0",
     "probability that a human answering a call with a Gather presses 9 (0..1)"),
    ("--voice-cps", "float", "0", "calls placed per second per account, 0 = unlimited; "
                                  "over it: 429"),
    # The Messages API (always served on the HTTP port).
    ("--twilio-inbound-url", "str", "",
     "the inbound webhook of the Messages API's numbers (replies, POST /twilio/mo); "
     "absent = beside the latest StatusCallback (.../status -> .../inbound)"),
)


ENV_CALLBACK_SECRET = "DISPATCH_SIMULATOR_CALLBACK_SECRET"


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "simulator", help="run the HTTP SMS gateway and SMSC simulator",
        description="Simulated HTTP SMS gateway and SMPP 3.4 SMSC with fault injection and "
                    "delivery receipts.",
        epilog=MO_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, _, default, text in _FLAGS:
        parser.add_argument(flag, default=None, metavar="VALUE",
                            help=f"{text} (default: {default})" if default else text)
    parser.add_argument("--account", action="append", default=[], metavar="SYSTEM_ID:PASSWORD",
                        help="SMPP account (repeat for several); none = accept any bind")
    parser.add_argument("--voice-account", "--twilio-account", action="append", default=[],
                        dest="voice_account", metavar="SID:TOKEN",
                        help="account of the Calls and Messages APIs (repeat for several); "
                             "none = accept any credentials")
    parser.add_argument("--no-voice-idempotency", action="store_true",
                        help="place a call again on a repeated Idempotency-Key (counted in "
                             "voice duplicates) instead of answering with the first call")
    parser.add_argument("--lean", action="store_true",
                        help="the lean SMSC, for load: answers, standard receipts and the "
                             "ledger's counts at a few us of CPU per message; no faults, "
                             "latency, bind rates, MO, replies, live faults or /disconnect")
    parser.add_argument("--profile", default=None, metavar="NAME",
                        help=f"behaviour profile: {', '.join(PROFILES)} (flags override it)")
    parser.add_argument("--log-level", default="INFO", choices=LOG_LEVELS)
    parser.add_argument("--log-format", default="text", choices=LOG_FORMATS,
                        help="text (default; under systemd: journald's priorities, no "
                             "time) or json (one object per line)")
    parser.set_defaults(handler=run_simulator)


def run_simulator(args: argparse.Namespace) -> int:
    config = config_from(args)
    setup(args.log_format, args.log_level, worker="simulator",
          secrets=[*config.accounts.values(), *config.voice_accounts.values(),
                   *([config.callback_secret] if config.callback_secret else [])])
    tune_for_batches()
    # A port that cannot be had is a PortUnavailableError naming it: one line, exit 4.
    trio.run(_serve_until_signalled, config)
    return 0


def config_from(args: argparse.Namespace) -> SimulatorConfig:
    """The SimulatorConfig the flags describe; raises UserError naming the bad flag."""
    try:
        values = profile_defaults(args.profile) if args.profile else {}
        for flag, kind, default, _ in _FLAGS:
            given = getattr(args, _dest(flag))
            if given is not None or _dest(flag) not in values:
                values[_dest(flag)] = _convert(flag, kind, default if given is None else given)
        if not values.get("callback_secret"):  # a flag is seen by every user (ps)
            values["callback_secret"] = os.environ.get(ENV_CALLBACK_SECRET, "")
        values["accounts"] = parse_accounts(args.account)
        values["voice_accounts"] = parse_accounts(args.voice_account, "--voice-account",
                                                  "SID:TOKEN")
        values["voice_idempotency"] = not args.no_voice_idempotency
        values["smpp_lean"] = args.lean
        return SimulatorConfig(**values)
    except SimulatorConfigError as exc:
        raise UserError(str(exc)) from None


def parse_accounts(items: list[str], flag: str = "--account",
                   form: str = "SYSTEM_ID:PASSWORD") -> dict[str, str]:
    """`NAME:SECRET` items -> {name: secret}; errors name `flag`."""
    accounts: dict[str, str] = {}
    for item in items:
        name, sep, secret = item.partition(":")
        if not sep or not name:
            raise SimulatorConfigError(f"{flag}: expected {form}, got {item!r}")
        if name in accounts:
            raise SimulatorConfigError(f"{flag}: {name!r} given twice")
        accounts[name] = secret
    return accounts


def _dest(flag: str) -> str:
    return flag.removeprefix("--").replace("-", "_")


def _convert(flag: str, kind: str, text: str) -> Any:
    try:
        return _CONVERTERS[kind](text)
    except SimulatorConfigError as exc:  # --outcomes explains itself
        raise UserError(str(exc)) from None
    except ValueError:
        expected = {"float": "a number", "status": "an integer (0x.. for hex)"}.get(
            kind, "an integer")
        raise UserError(f"{flag}: expected {expected}, got {text!r}") from None


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "str": str,
    "int": int,
    "float": float,
    "seed": lambda text: int(text) if text else None,
    "port": lambda text: int(text) if text else None,
    "status": lambda text: int(text, 0),
    "outcomes": parse_outcome_mix,
    "call_outcomes": lambda text: parse_outcome_mix(text, CALL_MIX),
}


async def _serve_until_signalled(config: SimulatorConfig) -> None:
    simulator = Simulator(config)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(simulator.serve)
            print(json.dumps({"http_port": port, "smpp_port": simulator.smpp_port}),
                  flush=True)
            async for _ in signals:
                break
            await simulator.stop_accepting(config.shutdown_grace_ms / 1000)
            nursery.cancel_scope.cancel()
    _report_unsent(simulator)


def _report_unsent(simulator: Simulator) -> None:
    pending = simulator.receipts.counters.pending
    if pending:
        print(f"dispatch simulator: {pending} receipts still unsent at exit",
              file=sys.stderr)
    for poster, what in ((simulator.voice.poster, "voice callbacks"),
                         (simulator.twilio.poster, "twilio callbacks and MO")):
        if poster.counters.pending:
            print(f"dispatch simulator: {poster.counters.pending} {what} still unsent at "
                  "exit", file=sys.stderr)
    replies = simulator.replies.stats()["replies"]["pending"]
    if replies:
        print(f"dispatch simulator: {replies} replies still unacknowledged at exit",
              file=sys.stderr)
    if simulator.any_smsc is not None:
        counters = simulator.any_smsc.counters
        if counters.receipts_pending or counters.mo_pending:
            print(f"dispatch simulator: {counters.receipts_pending} SMPP receipts and "
                  f"{counters.mo_pending} MO still unsent at exit", file=sys.stderr)
