"""The text exports: the legacy CSV lines as they are, and JSON (variables with units, rows as arrays)."""

import json

from meso360 import __version__
from meso360.datafile import OBS_HEADER, number_or_none
from meso360.export.timerange import utc_text
from meso360.export.variables import EXPORTED, TIME_UNITS

JSON_FORMAT_NAME = "meso360-export-1"


def write_csv(stream, chunks, info=None):
    """Write the legacy header line, then each selected row's line as it is in its daily file; return the row count.

    `stream` is a text stream opened with newline="" (the lines end in a bare \\n, as in the files); `info` is
    not needed (the same call as write_json).
    """
    stream.write(OBS_HEADER + "\n")
    count = 0
    for chunk in chunks:
        stream.write("".join(line + "\n" for line in chunk.lines))
        count += len(chunk.lines)
    return count


def json_variables():
    """Return the JSON description of the row columns: name, units and CF standard name, long name."""
    described = [{"name": "time", "standard_name": "time", "units": TIME_UNITS, "long_name": "GPS time (UTC)"}]
    for variable in EXPORTED:
        described.append(
            {
                "name": variable.column,
                "standard_name": variable.standard_name,
                "units": variable.units,
                "long_name": variable.long_name,
            }
        )
    return described


def json_row(seconds, row):
    """Given a row's GPS time and its 17 columns, return the JSON row: time, then EXPORTED values (null: missing)."""
    return [seconds, *(number_or_none(row[variable.index], infinity_is_missing=True) for variable in EXPORTED)]


def _json_head(info):
    head = {
        "format": JSON_FORMAT_NAME,
        "vehicle": info.vehicle,
        "institution": info.institution,
        "from": utc_text(info.time_range.start),
        "to": utc_text(info.time_range.end),
        "software": f"meso360 {__version__}",
        "variables": json_variables(),
    }
    return json.dumps(head, indent=1)[:-2]  # without the closing "\n}": the rows follow


def write_json(stream, chunks, info):
    """Write the JSON export of the chunks (see README "Export"), one row per line; return the row count."""
    stream.write(_json_head(info) + ',\n "rows": [')
    count = 0
    for chunk in chunks:
        for seconds, row in zip(chunk.seconds, chunk.rows, strict=True):
            stream.write(("\n  " if count == 0 else ",\n  ") + json.dumps(json_row(seconds, row)))
            count += 1
    stream.write("\n ]\n}\n")
    return count
