"""SIGINT and SIGTERM handling shared by every daemon and long-running meso360ctl command.

A program started as a shell script's background job (`cmd &`), or by some CI runners, gets SIGINT
ignored, and Python keeps it ignored: relying on Python's KeyboardInterrupt, such a process would never
stop on Ctrl-C or `kill -INT`. Each program therefore installs its own handling at start.
"""

import signal

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def stop_on_signals(stop_event, log=None):
    """Set `stop_event` on SIGINT or SIGTERM, whatever the disposition inherited at exec.

    With `log`, the signal received is logged once at info. Call from the main thread.
    """

    def request_stop(signum, _frame):
        if log is not None and not stop_event.is_set():
            log.info("received %s, stopping", signal.Signals(signum).name)
        stop_event.set()

    for signum in STOP_SIGNALS:
        signal.signal(signum, request_stop)


def interrupt_on_sigint():
    """Make SIGINT raise KeyboardInterrupt again (Python's default), even if it was ignored at exec."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


def default_signals_for_exec():
    """Give SIGINT, SIGTERM and SIGPIPE their default action before exec'ing another program (journalctl).

    Dispositions set to "ignore" survive exec: without this the program would inherit an ignored SIGINT
    (background job) and Python's ignored SIGPIPE.
    """
    for signum in (*STOP_SIGNALS, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_DFL)
