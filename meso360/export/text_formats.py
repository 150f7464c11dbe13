"""The text exports: the legacy CSV lines as they are, and JSON (variables with units, rows as arrays)."""

import json

from meso360 import __version__
from meso360.datafile import OBS_HEADER, number_or_none
from meso360.export.qc_flags import FLAG_VARIABLES
from meso360.export.timerange import utc_text
from meso360.export.variables import EXPORTED, TIME_UNITS

JSON_FORMAT_NAME = "meso360-export-1"


def csv_pieces(chunks):
    """Yield the CSV export as text: the legacy header line, then each row's line as it is in its daily file."""
    yield OBS_HEADER + "\n"
    for chunk in chunks:
        yield "".join(line + "\n" for line in chunk.lines)


def counted(chunks, counter):
    """Yield the chunks, adding the number of their rows to counter["rows"]."""
    for chunk in chunks:
        counter["rows"] += len(chunk.lines)
        yield chunk


def write_csv(stream, chunks, info=None):
    """Write the CSV export of the chunks to a text stream opened with newline="" (lines end in a bare \\n, as in
    the files); return the row count. `info` is not needed (the same call as write_json)."""
    counter = {"rows": 0}
    stream.writelines(csv_pieces(counted(chunks, counter)))
    return counter["rows"]


def json_variables(with_qc=False):
    """Return the JSON description of the row columns: name, units and CF standard name, long name; `with_qc`:
    then the QC flag columns with their flag_values and flag_meanings."""
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
    if with_qc:
        described += [qc_json_variable(variable) for variable in FLAG_VARIABLES]
    return described


def qc_json_variable(variable):
    """Return the JSON description of a QC flag column (export/qc_flags.py)."""
    return {
        "name": variable.name,
        "standard_name": variable.standard_name,
        "long_name": variable.long_name,
        "flag_values": list(variable.values),
        "flag_meanings": " ".join(variable.meanings),
    }


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
        "variables": json_variables(with_qc=info.qc),
    }
    return json.dumps(head, indent=1)[:-2]  # without the closing "\n}": the rows follow


def json_pieces(chunks, info):
    """Yield the JSON export of the chunks as text (see README "Export"), one row per line."""
    yield _json_head(info) + ',\n "rows": ['
    separator = "\n  "
    for chunk in chunks:
        flags = chunk.qc or [()] * len(chunk.lines)
        for seconds, row, row_flags in zip(chunk.seconds, chunk.rows, flags, strict=True):
            yield separator + json.dumps([*json_row(seconds, row), *row_flags])
            separator = ",\n  "
    yield "\n ]\n}\n"


def write_json(stream, chunks, info):
    """Write the JSON export of the chunks to a text stream; return the row count."""
    counter = {"rows": 0}
    stream.writelines(json_pieces(counted(chunks, counter), info))
    return counter["rows"]
