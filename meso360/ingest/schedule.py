"""When to poll next: phase-locked to the logger's record arrivals (the back-off while failing: service.Backoff)."""

PHASE_MARGIN_S = 0.08  # poll this long after a record is expected to have appeared
MIN_PROBE_STEP_S = 0.01  # each cycle, expect the record a little earlier, to keep tracking the true arrival time
EARLY_RETRY_S = 0.1  # a poll found nothing new: the record is a little late, ask again soon
EARLY_RETRIES = 3


class PhaseLock:
    """Schedule polls shortly after each new record appears on the logger, one cycle of `interval_s` apart.

    The arrival time is bracketed by an empty poll followed by one that found a new record; between brackets the
    estimate slowly moves earlier, so a drift of the logger's phase is found again by the next empty poll.
    """

    def __init__(self, interval_s):
        self.interval_s = interval_s
        self.arrival = None  # monotonic time at which a new record last appeared (estimate)
        self.last_empty_at = None
        self.empty_polls = 0
        self.probe_step_s = interval_s / 4  # large while the phase is unknown, halved at each bracket

    def next_poll(self, sent_at, got_new, more, now):
        """Given when the poll was sent, whether it brought new records and more are waiting, return the
        monotonic time of the next poll.
        """
        if more:
            return now
        if not got_new:
            self.empty_polls += 1
            self.last_empty_at = sent_at
            if self.arrival is not None and self.empty_polls <= EARLY_RETRIES:
                return sent_at + EARLY_RETRY_S
            return sent_at + self.interval_s
        if self.last_empty_at is not None and sent_at - self.last_empty_at < self.interval_s:
            arrival = (self.last_empty_at + sent_at) / 2
            self.probe_step_s = max(MIN_PROBE_STEP_S, self.probe_step_s / 2)
        elif self.arrival is not None:
            cycles = (sent_at - self.arrival) // self.interval_s
            arrival = self.arrival + cycles * self.interval_s - self.probe_step_s
        else:
            arrival = sent_at - PHASE_MARGIN_S
        self.arrival, self.last_empty_at, self.empty_polls = arrival, None, 0
        target = arrival + self.interval_s + PHASE_MARGIN_S
        while target <= now:
            target += self.interval_s
        return target
