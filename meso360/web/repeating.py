"""Work repeated in a daemon thread that must outlive its errors: each cause is logged once, not every pass."""

import threading


class Repeating:
    """Call `work()` every `interval_s` in a daemon thread until a stop event; an exception is logged once per
    cause as "`what` failed; retrying every N s" (a new cause is logged again), and the next pass tries again."""

    def __init__(self, work, interval_s, log, what):
        self.work = work
        self.interval_s = interval_s
        self.log = log
        self.what = what
        self._failure = None  # repr of the last error, logged once

    def call(self):
        """Call the work once; log its error unless the last call failed the same way. Return True when it ran."""
        try:
            self.work()
        except Exception as error:
            # The thread must not die on one bad pass (a state file half written, D-Bus away for a moment).
            if repr(error) != self._failure:
                self.log.exception("%s failed; retrying every %g s", self.what, self.interval_s)
            self._failure = repr(error)
            return False
        self._failure = None
        return True

    def start(self, stop_event, name):
        """Start the thread (the first call after one interval) and return it."""
        thread = threading.Thread(target=self._run, args=(stop_event,), name=name, daemon=True)
        thread.start()
        return thread

    def _run(self, stop_event):
        while not stop_event.wait(self.interval_s):
            self.call()
