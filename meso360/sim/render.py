"""Answers of the simulated CR1000X web server: DataQuery JSON, NewestRecord HTML, lastrecords.html, ClockCheck."""

import json
from html import escape

from meso360.sim.replay import FLOAT, NAN, STRING, TABLES, VALUES, utc

MODEL = "CR1000X"
SERIAL_NO = "31337"
OS_VERSION = "CR1000X.Std.07.02"
PROG_NAME = "CPU:MESO360.CR1X"
# Strings the legacy NewestRecord page shows inside double quotes (LEGACY.md section 1.2).
QUOTED_IN_HTML = {"GPSDate", "GPSTime", "RMC", "GGA"}


def table_name(name):
    """Return the canonical table name for `name` (CRBasic names are case-insensitive), or None."""
    for known in TABLES:
        if known.lower() == name.lower():
            return known
    return None


def logger_time(seconds, sep="T"):
    return utc(seconds).strftime(f"%Y-%m-%d{sep}%H:%M:%S")


def json_value(token, field_type):
    """Return the JSON text of one value: numbers verbatim, NAN and strings quoted."""
    if field_type == FLOAT and token != NAN:
        return token
    return json.dumps(token)


def head(table, signature, fields, station_name):
    return {
        "transaction": 0,
        "signature": signature,
        "environment": {
            "station_name": station_name,
            "table_name": table,
            "model": MODEL,
            "serial_no": SERIAL_NO,
            "os_version": OS_VERSION,
            "prog_name": PROG_NAME,
        },
        "fields": [
            {"name": f.name, "type": f.type, "units": f.units, "process": "Smp", "settable": False} for f in fields
        ],
    }


def select_fields(table, field_name):
    """Return [(index, Field)] of `table` for an optional field name from the uri; None if no such field."""
    indexed = list(enumerate(TABLES[table]))
    if not field_name:
        return indexed
    chosen = [(i, f) for i, f in indexed if f.name.lower() == field_name.lower()]
    return chosen or None


def record_json(record, rows, table, selected, malformed=None):
    """Return the JSON text of one data entry; `malformed` ("fields"/"garbage") corrupts it on purpose."""
    tokens = VALUES[table](record, rows)
    values = [json_value(tokens[i], f.type) for i, f in selected]
    if malformed == "fields":
        values = values[:-1]
    elif malformed == "garbage":
        numeric = [n for n, (_, f) in enumerate(selected) if f.type == FLOAT]
        if numeric:
            values[numeric[0]] = '"1.2.3#ERR"'
    return f'{{"time":"{logger_time(record.seconds)}","no":{record.no},"vals":[{",".join(values)}]}}'


def data_query_json(table, signature, records, rows, selected, more, station_name, malformed=None, omit_more=False):
    """Return the DataQuery CSIJSON body (str) for `records` (already one page)."""
    fields = [f for _, f in selected]
    entries = []
    for position, record in enumerate(records):
        # Corrupt only the last record so a client must validate every entry, not just the first.
        bad = malformed if position == len(records) - 1 else None
        entries.append(record_json(record, rows, table, selected, bad))
    text = f'{{"head":{json.dumps(head(table, signature, fields, station_name))},"data":[{",".join(entries)}]'
    if more or not omit_more:
        text += f',"more":{"true" if more else "false"}'
    return text + "}"


def html_value(field, token):
    if field.type == STRING and field.name in QUOTED_IN_HTML:
        return f'"{token}"'
    return token


def newest_record_html(table, record, rows):
    """Return the NewestRecord page of `table` (record None: the table is empty)."""
    lines = [
        "<HTML><HEAD><TITLE>Newest Record</TITLE></HEAD><BODY>",
        f"<h1>{escape(table)}</h1>",
    ]
    if record is not None:
        tokens = VALUES[table](record, rows)
        lines.append(f"<p><b>Current Record: </b>{record.no}</p>")
        lines.append(f"<p><b>Record Date: </b>{logger_time(record.seconds, ' ')}.0</p>")
        lines.append('<table border="1">')
        for field, token in zip(TABLES[table], tokens, strict=True):
            lines.append(f"<tr><th>{field.name}</th><td>{escape(html_value(field, token), quote=False)}</td></tr>")
        lines.append("</table>")
    lines.append("</BODY></HTML>")
    return "\n".join(lines) + "\n"


def last_records_html(records, rows):
    """Return lastrecords.html: one line `recno,v0,...,v18` per Obs record, nothing else on those lines."""
    lines = ["<!DOCTYPE html>", "<html><body>"]
    for record in records:
        tokens = VALUES["Obs"](record, rows)
        values = [html_value(field, token) for field, token in zip(TABLES["Obs"], tokens, strict=True)]
        lines.append(f"{record.no},{','.join(values)}")
    lines.append("</body></html>")
    return "\n".join(lines) + "\n"


def data_query_html(table, records, rows, selected):
    """A minimal HTML table for DataQuery format=html (the logger's default format)."""
    header = "".join(f"<th>{f.name}</th>" for _, f in selected)
    lines = [
        f"<html><body><h1>{escape(table)}</h1>",
        '<table border="1">',
        f"<tr><th>TimeStamp</th><th>Record</th>{header}</tr>",
    ]
    for record in records:
        tokens = VALUES[table](record, rows)
        cells = "".join(f"<td>{escape(tokens[i])}</td>" for i, _ in selected)
        lines.append(f"<tr><td>{logger_time(record.seconds, ' ')}</td><td>{record.no}</td>{cells}</tr>")
    lines.append("</table></body></html>")
    return "\n".join(lines) + "\n"


def clock_check_json(seconds):
    return json.dumps({"outcome": 1, "time": logger_time(seconds), "description": "The clock was checked"})


def error_page(status, message):
    """A small HTML page for error answers."""
    return f"<html><head><title>{status}</title></head><body><h1>{status}</h1><p>{escape(message)}</p></body></html>\n"
