"""Gateway simulators standing in for the operators: the HTTP SMS gateway and the SMPP 3.4
SMSC, sharing one ledger. Knobs in config (and profiles), pure ledger and fault decisions,
Trio services in service (both), smsc (the SMSC) and http_gateway."""

from dispatch.simulator.config import SimulatorConfig, SimulatorConfigError, parse_outcome_mix
from dispatch.simulator.profiles import PROFILES, profile_defaults
from dispatch.simulator.service import Simulator, serve_simulator
from dispatch.simulator.smsc import Smsc

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
