"""meso360ctl export: any time range of the daily files as the legacy CSV, JSON or CF-1.8 NetCDF."""

import contextlib
import functools
import os
import sys
from pathlib import Path

import click

from meso360.errors import EXIT_BAD_ARGUMENT, EXIT_DATA
from meso360.export import output, qc_flags, select, text_formats, timerange
from meso360.export.netcdf_format import write_netcdf  # numpy and netCDF4 are imported only when it runs
from meso360.export.variables import ExportInfo

FORMATS = ("csv", "json", "netcdf")
TEXT_WRITERS = {"csv": text_formats.write_csv, "json": text_formats.write_json}


class ExportUsageError(click.ClickException):
    """A --from/--to or -o that cannot be used: exit 64 (EX_USAGE) with the message."""

    exit_code = EXIT_BAD_ARGUMENT


class NoRowsError(click.ClickException):
    """No row of the data files is in the range: exit 65 (EX_DATAERR) with the message."""

    exit_code = EXIT_DATA


def qc_sidecars_or_fail(paths, format_name):
    """Check --qc can be honoured: json or netcdf, and every day's QC sidecar (YYYYMMDD_qc.txt) present; raise
    ExportUsageError (csv) or ClickException (a missing sidecar, saying how to make it)."""
    missing = qc_flags.sidecars_missing(paths)
    if missing:
        raise click.ClickException(f"no QC flags for {missing[0]} (meso360ctl qc {missing[0]})")
    if format_name == "csv":
        raise ExportUsageError(
            "--qc with csv: the csv export is the daily files' lines byte for byte; the flags of each row are in"
            " data_dir/YYYYMMDD_qc.txt (meso360ctl qc DAY), or export --format json or netcdf with --qc"
        )


@contextlib.contextmanager
def progress_callback(paths):
    """Yield an on_file_done(path) that advances a progress bar on stderr (by file size), when stderr is a tty."""
    if not sys.stderr.isatty():
        yield None
        return
    total = sum(path.stat().st_size for path in paths)
    with click.progressbar(length=total, label="Exporting", file=sys.stderr) as bar:
        yield lambda path: bar.update(path.stat().st_size)


def write_export(format_name, chunks, info, target, force):
    """Write the chunks in `format_name` to `target` ("-": standard output); return the row count."""
    if target == "-":
        return TEXT_WRITERS[format_name](sys.stdout, chunks, info)
    if format_name == "netcdf":
        write_to_path = functools.partial(write_netcdf, chunks=chunks, info=info)
    else:
        write_to_path = output.text_writer(functools.partial(TEXT_WRITERS[format_name], chunks=chunks, info=info))
    return output.write_atomically(target, write_to_path, force=force)


def write_or_fail(format_name, chunks, info, target, force):
    """write_export, with a write error turned into a message (exit 1) and a closed stdout pipe into exit 1."""
    try:
        return write_export(format_name, chunks, info, target, force)
    except BrokenPipeError:  # `meso360ctl export ... -o - | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        raise click.exceptions.Exit(1) from None
    except OSError as error:
        raise click.ClickException(f"cannot write {target}: {error.strerror or error}") from None


def _parsed_range(start_text, end_text):
    try:
        return timerange.parse_range(start_text, end_text)
    except timerange.TimeRangeError as error:
        raise ExportUsageError(str(error)) from None


@click.command()
@click.option("--from", "start_text", required=True, metavar="TIME", help="First time, ISO 8601 UTC or a day.")
@click.option("--to", "end_text", required=True, metavar="TIME", help="Last time (included), or a day (all of it).")
@click.option("--format", "format_name", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("--qc", is_flag=True, help="Add the QC flags (needs data_dir/YYYYMMDD_qc.txt).")
@click.option("-o", "--output", "target", required=True, metavar="FILE", help="Output file; - for stdout (csv, json).")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def export(start_text, end_text, format_name, qc, target, force):
    """Export the rows from --from to --to (GPS time, across days) as CSV, JSON or NetCDF.

    TIME is ISO 8601 in UTC (2026-11-30T00:00:00Z) or a day (2026-11-30: from its 00:00:00, to its 23:59:59).
    csv: the data-file header and the rows' lines as they are in the daily files. json: the variables with
    their units and the rows as arrays. netcdf: a CF-1.8 trajectory (NetCDF-4). FILE is written under a
    temporary name and renamed when complete.

    Exit 64 for a bad time or output, 65 when no row is in the range, 1 for other failures.
    """
    time_range = _parsed_range(start_text, end_text)
    if target == "-" and format_name == "netcdf":
        raise ExportUsageError("NetCDF cannot go to standard output: give -o FILE")
    if target != "-" and Path(target).exists() and not force:
        raise click.ClickException(f"{target} exists: give --force to replace it")
    config = click.get_current_context().obj.config
    paths = select.files_of_range(config.general.data_dir, time_range)
    no_rows = NoRowsError(f"no rows from {start_text} to {end_text} in {config.general.data_dir}")
    if not paths:
        raise no_rows
    if qc:
        qc_sidecars_or_fail(paths, format_name)
    command = f"meso360ctl export --from {start_text} --to {end_text} --format {format_name} -o {target}"
    command += " --qc" if qc else ""
    info = ExportInfo(config.general.vehicle, config.general.institution, time_range, command, qc=qc)
    with progress_callback(paths) as on_file_done:
        chunks = select.chunks_of_range(paths, time_range, on_file_done)
        chunks = select.unless_empty(qc_flags.with_qc(chunks) if qc else chunks)
        if chunks is None:
            raise no_rows
        count = write_or_fail(format_name, chunks, info, target, force)
    where = "standard output" if target == "-" else target
    click.echo(f"exported {count} rows ({format_name}) to {where}", err=True)
