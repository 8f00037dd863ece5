"""Gateway simulators standing in for the operators: the HTTP SMS gateway (and, later,
the SMSC). Knobs in config, pure ledger and fault decisions, Trio service in service."""

from dispatch.simulator.config import SimulatorConfig, SimulatorConfigError, parse_outcome_mix
from dispatch.simulator.service import Simulator, serve_simulator

__all__ = [
    "Simulator",
    "SimulatorConfig",
    "SimulatorConfigError",
    "parse_outcome_mix",
    "serve_simulator",
]
