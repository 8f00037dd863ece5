"""`dispatch run [--processes N]`: the daemon (a systemd service)."""

from __future__ import annotations

import argparse
import signal

import trio

from dispatch.app import consumer_name, redis_answers, run_daemon
from dispatch.commands.common import UserError, add_config_option, settings_from
from dispatch.gc_tuning import tune_for_batches
from dispatch.logs import LOG_FORMATS, LOG_LEVELS, settings_secrets, setup
from dispatch.processes import dispatch_command
from dispatch.settings import Settings, check_for_daemon
from dispatch.workers import supervise, worker_settings

MAX_PROCESSES = 64


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run", help="run the sending daemon",
        description="Send queued messages through the configured gateways, record every "
                    "outcome and receipt; SIGTERM/SIGINT drain the work in hand and exit 0.")
    add_config_option(parser)
    parser.add_argument("--log-level", default="INFO", choices=LOG_LEVELS)
    parser.add_argument("--log-format", default="text", choices=LOG_FORMATS,
                        help="text (default; under systemd: journald's priorities, no "
                             "time) or json (one object per line)")
    parser.add_argument("--processes", type=int, default=1, metavar="N",
                        help="run N daemon processes (consumer <name>-K, ports + K-1, SMPP "
                             "binds per process) under one supervisor, to use N cores")
    parser.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    check_for_daemon(settings)  # its credentials; under systemd, a Redis of its own
    _log_to_stderr(args, settings)
    if not 1 <= args.processes <= MAX_PROCESSES:
        raise UserError(f"--processes: must be 1 to {MAX_PROCESSES}, got {args.processes}")
    if args.processes > 1:
        return _supervise(args)
    tune_for_batches()  # a daemon, alone or a supervisor's worker
    if args.worker:
        # A worker stops on the SIGTERM its supervisor passes on, not on the SIGINT a
        # terminal sends the whole process group: a second signal means "stop now".
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        settings = worker_settings(settings, args.worker, consumer_name(settings))
        trio.run(run_daemon, settings, (signal.SIGTERM,))
        return 0
    trio.run(run_daemon, settings)
    return 0


def _log_to_stderr(args: argparse.Namespace, settings: Settings) -> None:
    """Each line names its process: the consumer name (`<name>-K`: worker K, `<name>`: the
    supervisor or a lone daemon); of N workers, worker 1 alone logs campaign lifecycles."""
    consumer = consumer_name(settings)
    setup(args.log_format, args.log_level,
          worker=f"{consumer}-{args.worker}" if args.worker else consumer,
          campaigns=args.worker <= 1,
          secrets=settings_secrets(settings.gateways.values(), settings.redis.url))


def _supervise(args: argparse.Namespace) -> int:
    config = ["--config", args.config] if args.config else []
    commands = [dispatch_command("run", *config, "--log-level", args.log_level,
                                 "--log-format", args.log_format,
                                 "--worker", str(index))
                for index in range(1, args.processes + 1)]
    code: int = trio.run(_supervise_once_redis_answers, settings_from(args), commands)
    return code


async def _supervise_once_redis_answers(settings: Settings, commands: list[list[str]]
                                        ) -> int:
    """Workers are started once Redis answers: each would wait for it, past the time the
    supervisor gives them to be ready. A worker that exits before it is ready ends the
    supervisor with a ProcessFailed of its exit code (its own line on stderr says why)."""
    await redis_answers(settings)
    return await supervise(commands)
