"""dispatch: campaign messaging engine (SMS and voice) with compliance built in."""

__version__ = "0.1.0"
