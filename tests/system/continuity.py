"""Inside the e2e container: check the daily data files against the simulator's record history.

Every record the simulator produced from the first one in the files on must be in the files exactly
once, in order, with consecutive GPS seconds. With --new-sequence (the simulator was restarted, so its
history starts again with a new signature) the rows before its first record are left alone and the
rows from there on must be every record it produced, from its oldest. Prints one JSON line; exits 1
on a hole, duplicate or reordering. Run inside the container with the installed package's python3.
"""

import json
import sys
import urllib.request
from pathlib import Path

from meso360 import datafile

CONTROL_URL = "http://127.0.0.1:8082"  # meso360-sim.service --control-port
DATA_DIR = Path("/var/lib/meso360/data")


def control(path):
    with urllib.request.urlopen(CONTROL_URL + path, timeout=10) as answer:  # noqa: S310  http on loopback
        return json.load(answer)


def file_rows():
    rows = []
    for path in sorted(DATA_DIR.glob("????????.txt")):  # the daily files, not their QC sidecars
        rows += [line for line in path.read_text().splitlines() if line and line != datafile.OBS_HEADER]
    return rows


def first_difference(rows, expected):
    for index, (row, want) in enumerate(zip(rows, expected, strict=False)):
        if row != want:
            return index
    return min(len(rows), len(expected))


def main(new_sequence=False):
    rows = file_rows()
    if not rows:
        return {"ok": False, "problem": f"no rows in {DATA_DIR}"}
    newest = control("/state")["newest_record"]
    records = control(f"/records?from=0&to={newest}")["records"]
    expected = [",".join(datafile.obs_row_from_raw(record["vals"])) for record in records]
    known = set(expected)
    earlier = next((index for index, row in enumerate(rows) if row in known), len(rows)) if new_sequence else 0
    rows = rows[earlier:]
    if not rows:
        return {"ok": False, "problem": "no row of this simulator's records in the files"}
    try:
        start = expected.index(rows[0])
    except ValueError:
        return {"ok": False, "problem": "the first row in the files is not a record of this simulator", "row": rows[0]}
    if new_sequence and start != 0:
        return {"ok": False, "problem": f"the new sequence starts at record {records[start]['no']}, not its oldest"}
    window = expected[start : start + len(rows)]
    summary = {"earlier_rows": earlier, "rows": len(rows), "first_record": records[start]["no"]}
    summary["newest_record"] = newest
    if rows != window:
        index = first_difference(rows, window)
        duplicated = rows[index] in rows[:index] if index < len(rows) else False
        return summary | {
            "ok": False,
            "problem": "duplicate row" if duplicated else "missing or reordered record",
            "at_row": index,
            "expected_record": records[start + index]["no"] if start + index < len(records) else None,
            "row": rows[index] if index < len(rows) else None,
        }
    times = [datafile.row_timestamp(line.split(",")) for line in rows]
    steps = {int((later - earlier).total_seconds()) for earlier, later in zip(times, times[1:], strict=False)}
    summary["last_record"] = records[start + len(rows) - 1]["no"]
    if steps - {1}:
        return summary | {"ok": False, "problem": f"GPS time steps other than 1 s: {sorted(steps)}"}
    return summary | {"ok": True}


if __name__ == "__main__":
    result = main(new_sequence="--new-sequence" in sys.argv[1:])
    print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)
