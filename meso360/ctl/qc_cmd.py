"""meso360ctl qc: recompute a day's QC sidecar (YYYYMMDD_qc.txt) or report its flags per check and variable."""

import json

import click

from meso360.ctl.gaps_cmd import resolve_targets


def _data_path(target):
    """Given DATE/FILE (None: today's file, or the newest with a note), return the data file; raise ClickException."""
    ctl = click.get_current_context().obj
    paths, note = resolve_targets(ctl, target, False)
    if note:
        click.echo(f"note: {note}", err=True)
    return paths[0]


def format_report(name, counts, data_rows):
    """Return the text report of a sidecar's QcCounts (`data_rows`: the rows of its data file)."""
    lines = [
        f"QC flags of {name}: {counts.rows} rows checked of {data_rows} in the data file",
        f"Rows with a suspect flag: {counts.suspect_rows}   with a bad flag: {counts.bad_rows}",
        "Motion: " + ", ".join(f"{name} {count}" for name, count in counts.as_dict()["motion"].items()),
        "",
    ]
    table = counts.table()
    if not table:
        return "\n".join([*lines, "No flag raised."])
    lines += [f"{'check':<12} {'variable':<12} {'suspect':>8} {'bad':>8}", f"{'─' * 12} {'─' * 12} {'─' * 8} {'─' * 8}"]
    lines += [f"{check:<12} {variable:<12} {suspect:>8} {bad:>8}" for check, variable, suspect, bad in table]
    return "\n".join(lines)


def _data_rows(path):
    from meso360.datafile import OBS_HEADER, read_complete_text

    text, _ = read_complete_text(path)
    return sum(1 for line in text.splitlines() if line != OBS_HEADER)


def _report(target, as_json):
    from meso360.qc.report import count_file
    from meso360.qc.sidecar import sidecar_path

    path = _data_path(target)
    sidecar = sidecar_path(path)
    try:
        counts = count_file(sidecar)
    except FileNotFoundError:
        raise click.ClickException(f"{sidecar}: no QC flags (meso360ctl qc {path.stem})") from None
    data_rows = _data_rows(path)
    if as_json:
        click.echo(json.dumps({"file": str(sidecar), "data_rows": data_rows, **counts.as_dict()}, indent=2))
    else:
        click.echo(format_report(sidecar.name, counts, data_rows))


def _recompute(target):
    from meso360.qc.sidecar import recompute, sidecar_path

    path = _data_path(target)
    qc = click.get_current_context().obj.config.qc
    try:
        rows = recompute(path, qc)
    except OSError as error:
        raise click.ClickException(f"cannot write {sidecar_path(path)}: {error.strerror or error}") from None
    click.echo(f"{sidecar_path(path)}: QC flags of {rows} rows")


@click.command(context_settings={"ignore_unknown_options": False})
@click.argument("words", nargs=-1, metavar="[report] [DATE|FILE]")
@click.option("--json", "as_json", is_flag=True, help="With report: print the counts as JSON.")
def qc(words, as_json):
    """Recompute a day's QC flags, or report them.

    \b
    meso360ctl qc DATE           rewrite data_dir/YYYYMMDD_qc.txt from the day's rows (atomically)
    meso360ctl qc report [DATE]  count its flags per check and variable (--json: as JSON)

    DATE is YYYYMMDD or YYYY-MM-DD, or a data file; default: today's file (UTC), or the newest.
    Exit 1 when the data file or the sidecar (report) does not exist.
    """
    report = bool(words) and words[0] == "report"
    rest = words[1:] if report else words
    if len(rest) > 1:
        raise click.UsageError("give one DATE or FILE")
    target = rest[0] if rest else None
    if report:
        _report(target, as_json)
    elif as_json:
        raise click.UsageError("--json goes with report: meso360ctl qc report DATE --json")
    else:
        _recompute(target)
