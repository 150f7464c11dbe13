"""meso360ctl gaps: the legacy gap report (LEGACY.md section 6) with UTC times on both ends, or JSON."""

import datetime as dt
import json
import re
from pathlib import Path

import click

from meso360.ctl.newest import today_or_newest, utc_today_name
from meso360.datafile import daily_files
from meso360.gaps import analyze_file

_DATE_RE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")
_RULE = "=" * 60


def format_report(report):
    """Given a GapReport, return the text report in the legacy layout (both gap ends as HH:MM:SS UTC)."""
    completeness = report.completeness()
    lines = [
        "",
        _RULE,
        f"File: {report.name}",
        _RULE,
        f"Total data rows:   {report.rows}",
        f"Rows with NaN GPS: {report.rows_without_fix}",
        f"Duplicate times:   {report.duplicates}",
    ]
    if report.backward_jumps:
        lines.append(f"Backward jumps:    {report.backward_jumps}")
    if report.malformed_lines:
        lines.append(f"Malformed lines:   {report.malformed_lines}")
    if report.first is not None:
        lines.append(
            f"Time span (UTC):   {report.first:%H:%M:%S} - {report.last:%H:%M:%S} ({completeness.span_seconds}s),"
            f" {completeness.fraction:.1%} complete"
        )
    lines += [
        f"Gaps (≥2s):      {len(report.gaps)}",
        f"Total missing sec: {report.missing_seconds}s  ({report.missing_fraction_of_day:.1%} of a full day)",
    ]
    if not report.gaps:
        lines += ["", "No gaps found."]
        return "\n".join(lines)
    lines += ["", "Gap size breakdown:"]
    for bucket in report.buckets:
        lines.append(f"  {bucket.label:>8}:  {bucket.count:>4} gaps,  {bucket.missing_seconds:>6}s missing")
    lines += [
        "",
        f"{'#':>4}  {'UTC start':>8}  {'UTC end':>8}  {'delta':>8}  note",
        f"{'─' * 4}  {'  '.join(['─' * 8] * 3)}  {'─' * 20}",
    ]
    for number, gap in enumerate(report.gaps, start=1):
        note = f"  ← {gap.note}" if gap.note else ""
        lines.append(f"{number:>4}  {gap.start:%H:%M:%S}  {gap.end:%H:%M:%S}  {gap.delta_seconds:>7}s{note}".rstrip())
    return "\n".join(lines)


def _date_file_name(target):
    match = _DATE_RE.match(target)
    if not match:
        return None
    try:
        day = dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        raise click.BadParameter(f"{target!r} is not a valid date", param_hint="DATE") from None
    return f"{day:%Y%m%d}.txt"


def _available(data_dir, files):
    if not files:
        return f"No data files found in {data_dir}"
    names = ", ".join(path.name for path in files[-10:])
    more = f" (and {len(files) - 10} older)" if len(files) > 10 else ""
    return f"Available in {data_dir}: {names}{more}"


def resolve_targets(ctl, target, all_files):
    """Return ([paths], note) for the gaps command; raise ClickException listing the available files."""
    if target and not all_files and _DATE_RE.match(target) is None and Path(target).is_file():
        return [Path(target)], None  # a file given by path needs no config
    data_dir = ctl.config.general.data_dir
    files = daily_files(data_dir)
    if all_files:
        if target:
            raise click.UsageError("give either DATE/FILE or --all, not both")
        if not files:
            raise click.ClickException(f"No data files found in {data_dir}")
        return files, None
    if target:
        name = _date_file_name(target) or Path(target).name
        path = Path(data_dir) / name
        if not path.is_file():
            raise click.ClickException(f"{path}: no such data file\n{_available(data_dir, files)}")
        return [path], None
    path, note = today_or_newest(files, utc_today_name())
    if path is None:
        raise click.ClickException(f"No data files found in {data_dir}")
    return [path], note


@click.command()
@click.argument("target", metavar="[DATE|FILE]", required=False)
@click.option("--all", "all_files", is_flag=True, help="Report every YYYYMMDD.txt file in data_dir.")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON (a list, one per file).")
def gaps(target, all_files, as_json):
    """Report gaps (>= 2 s between rows) in a daily data file.

    DATE is YYYYMMDD or YYYY-MM-DD (the file data_dir/YYYYMMDD.txt); FILE is a path, or a file
    name in data_dir. Default: today's file (UTC), or the newest file with a note. Lists gaps
    with UTC start/end, size buckets, duplicates, rows without GPS fix and completeness.

    Exit 1 when the file does not exist (the available files are listed).
    """
    ctl = click.get_current_context().obj
    paths, note = resolve_targets(ctl, target, all_files)
    if note:
        click.echo(f"note: {note}", err=True)
    reports = []
    for path in paths:
        try:
            reports.append(analyze_file(path))
        except OSError as error:
            raise click.ClickException(f"{path}: cannot read: {error.strerror or error}") from None
    if as_json:
        click.echo(json.dumps([report.as_dict() for report in reports], indent=2))
        return
    for report in reports:
        click.echo(format_report(report))
