"""The skeleton every daemon shares: arguments, logging, config load, stop signals, sd_notify, exit codes; and the
retry Backoff and the wait that feeds the watchdog, which their loops share."""

import argparse
import random
import sys
import threading
import time

from meso360 import config as config_module
from meso360.errors import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, ConfigError
from meso360.logs import setup_logging
from meso360.notify import Notifier
from meso360.signals import stop_on_signals

WAIT_SLICE_S = 1.0  # a waiting loop tells systemd it is alive this often (WatchdogSec is tens of seconds)


def argument_parser(prog, description):
    """Return an ArgumentParser for daemon `prog` with the options every daemon has: --config and --verbose."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--config", help=f"config file (default: ${config_module.ENV_VAR} or {config_module.DEFAULT_PATH})"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def log_config_problems(error, log):
    """Log every problem of a ConfigError at error level, then say the daemon does not start."""
    for problem in error.problems:
        log.error("%s", problem)
    log.error("configuration invalid: not starting")


def load_config(path, log, invalid_exit_code=EXIT_CONFIG):
    """Return the Config loaded from `path` (None: the default). On a problem, log them all and exit."""
    try:
        return config_module.load(path)
    except ConfigError as error:
        log_config_problems(error, log)
        sys.exit(invalid_exit_code)


def serve(log, run):
    """Call run(stop_event, notifier) with stop_event set by SIGTERM or SIGINT; return the exit code.

    run returns its exit code (None: 0). A ConfigError it raises (a key file, say) gives 78, any other exception
    is logged with its traceback and gives 1 (systemd restarts the daemon). STOPPING=1 is sent at the end.
    """
    stop_event = threading.Event()
    stop_on_signals(stop_event, log)
    notifier = Notifier()
    try:
        code = run(stop_event, notifier) or EXIT_OK
    except ConfigError as error:
        log_config_problems(error, log)
        return EXIT_CONFIG
    except Exception:  # noqa: BLE001  the last resort: traceback, exit 1, systemd restarts
        log.critical("unexpected error; exiting so that systemd restarts the daemon", exc_info=True)
        return EXIT_FAILURE
    finally:
        notifier.stopping()
    log.info("stopped")
    return code


def main(args, log_name, run):
    """Run a daemon with the parsed `args` (see argument_parser): log as `log_name`, load the config, then
    run(config, stop_event, notifier) until it returns; exit with its code."""
    log = setup_logging(log_name, verbose=args.verbose)
    config = load_config(args.config, log)
    sys.exit(serve(log, lambda stop_event, notifier: run(config, stop_event, notifier)))


def wait_feeding_watchdog(stop_event, seconds, on_slice):
    """Wait `seconds` or until stop_event, calling on_slice() (send WATCHDOG=1, refresh STATUS) every second;
    return True if stopped. For a loop that is alive but has nothing to do yet, such as a retry's back-off."""
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        if stop_event.wait(min(remaining, WAIT_SLICE_S)):
            return True
        on_slice()
    return stop_event.is_set()


class Backoff:
    """Retry delays that double from first_s up to maximum_s, each drawn at random in the upper half of its
    step (jitter, so that retries do not fall in step); reset() after a success."""

    def __init__(self, maximum_s=30.0, first_s=1.0):
        self.maximum_s = maximum_s
        self.first_s = first_s
        self.step_s = None  # the step of the last delay; None: no failure since the last reset

    def next_delay(self):
        """Return the seconds to wait before the next try: between half and all of the current step."""
        self.step_s = min(self.maximum_s, self.first_s if self.step_s is None else self.step_s * 2)
        return random.uniform(self.step_s / 2, self.step_s)  # noqa: S311  retry jitter, no secret

    def cap(self, maximum_s):
        """Make `maximum_s` the longest step from now on, the step in progress included."""
        self.maximum_s = maximum_s
        if self.step_s is not None:
            self.step_s = min(self.step_s, maximum_s)

    def reset(self):
        self.step_s = None
