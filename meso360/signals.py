"""SIGINT and SIGTERM handling shared by every daemon and long-running meso360ctl command.

A program started as a shell script's background job (`cmd &`), or by some CI runners, gets SIGINT
ignored, and Python keeps it ignored: relying on Python's KeyboardInterrupt, such a process would never
stop on Ctrl-C or `kill -INT`. Each program therefore installs its own handling at start.
"""

import queue
import signal
import threading

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def stop_on_signals(stop_event, log=None):
    """Set `stop_event` on SIGINT or SIGTERM, whatever the disposition inherited at exec.

    With `log`, the signal received is logged once at info. Call from the main thread.

    The handler only puts the signal on a queue.SimpleQueue (whose put may be called from a signal handler); a
    thread of its own sets the event. The handler runs in the main thread between two bytecodes, possibly while
    that thread holds the event's lock (inside stop_event.wait): setting the event there would wait for that
    lock forever, and the process would ignore every later signal but SIGKILL.
    """
    received = queue.SimpleQueue()

    def relay():
        while True:
            signum = received.get()
            if log is not None and not stop_event.is_set():
                log.info("received %s, stopping", signal.Signals(signum).name)
            stop_event.set()

    threading.Thread(target=relay, name="stop-signals", daemon=True).start()
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda signum, _frame: received.put(signum))


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
