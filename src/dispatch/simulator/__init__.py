"""Gateway simulators standing in for the operators: the HTTP SMS gateway (package http)
and the SMPP 3.4 SMSC (package smsc), sharing one ledger, and the programmable-voice
Calls API (package voice, on the HTTP port, with a book of its own). At the root, what
they share: knobs in config (and profiles), the pure ledger, the reply book (replies),
time-ordered queues (schedule), MO injected by hand (POST /mo: mo_body reads it, mo sends
it over SMPP or HTTP), and service, the Trio service that runs them all."""

from dispatch.simulator.config import SimulatorConfig, SimulatorConfigError, parse_outcome_mix
from dispatch.simulator.profiles import PROFILES, profile_defaults
from dispatch.simulator.service import Simulator, serve_simulator
from dispatch.simulator.smsc.server import Smsc

__all__ = [
    "PROFILES",
    "Simulator",
    "SimulatorConfig",
    "SimulatorConfigError",
    "Smsc",
    "parse_outcome_mix",
    "profile_defaults",
    "serve_simulator",
]
