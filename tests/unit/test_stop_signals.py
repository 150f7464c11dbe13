"""stop_on_signals (meso360/signals.py): a stop signal sets the event whatever the main thread is doing."""

import subprocess
import sys
import textwrap

# Run in a child: the handlers are process-wide, and the old handler (setting the event itself) hung for ever.
CHILD = textwrap.dedent(
    """
    import os, signal, threading
    from meso360.signals import stop_on_signals

    stop_event = threading.Event()
    stop_on_signals(stop_event)
    with stop_event._cond:  # as inside stop_event.wait(): the main thread holds the event's lock
        os.kill(os.getpid(), signal.SIGTERM)  # the handler runs here, in the main thread, before the lock is freed
        for _ in range(100):
            pass
    print("stopped" if stop_event.wait(10) else "not stopped")
    """
)


def test_a_signal_arriving_while_the_main_thread_holds_the_events_lock_still_sets_it():
    child = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=20)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "stopped"
