"""Records the logger serves broken: the valid part of an answer, and when a record still bad is given up."""

import dataclasses
import logging

log = logging.getLogger("meso360.ingest.collector")  # the collector's messages: one logger name per table's collection

BAD_RECORD_ATTEMPTS = 3
# A bad record is skipped only when it was still bad after this long: a logger busy writing its table can serve
# the same broken record several times within a second, and holds a good copy moments later.
BAD_RECORD_RETRY_S = 30.0


def valid_prefix(records, next_no):
    """Given the records of an answer, return (the leading valid ones, the first bad one or None).

    A record is bad when it has a problem, or when its number is below `next_no` or an earlier one's (out of order).
    """
    valid, expected_min = [], next_no
    for record in records:
        if record.problem:
            return valid, record
        if record.no < expected_min:
            return valid, dataclasses.replace(record, problem=f"record number {record.no} out of order")
        valid.append(record)
        expected_min = record.no + 1
    return valid, None


class BadRecords:
    """How often, and since when, each bad record of table `table` was served; `clock` is monotonic seconds."""

    def __init__(self, table, clock):
        self.table = table
        self.clock = clock
        self.attempts = {}  # record number (or ("after", last record) when it has none) -> (attempts, first seen)

    def give_up(self, record, last_record, next_no):
        """Count one more answer with the bad `record`; return True when it is to be skipped, not written.

        That is when it was bad BAD_RECORD_ATTEMPTS times over at least BAD_RECORD_RETRY_S and is the next one due.
        """
        key = record.no if record.no is not None else ("after", last_record)
        attempts, first_seen = self.attempts.get(key, (0, self.clock()))
        attempts += 1
        self.attempts[key] = (attempts, first_seen)
        if attempts == 1:
            log.warning(
                "%s: bad record in the logger's answer (%s): nothing written for it, asking again",
                self.table,
                record.problem,
            )
        bad_for_s = self.clock() - first_seen
        if attempts < BAD_RECORD_ATTEMPTS or bad_for_s < BAD_RECORD_RETRY_S or record.no is None or record.no < next_no:
            return False
        log.error(
            "%s: record %d was bad %d times over %.0f s (%s): skipped, not written",
            self.table,
            record.no,
            attempts,
            bad_for_s,
            record.problem,
        )
        return True

    def forget_written(self, next_no):
        """Forget the bad records before `next_no`: a good copy of them was written, or they were skipped."""
        for key in list(self.attempts):
            number = key[1] + 1 if isinstance(key, tuple) else key
            if number < next_no:
                del self.attempts[key]

    def clear(self):
        """Forget every bad record (a new record sequence)."""
        self.attempts.clear()
