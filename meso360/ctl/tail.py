"""meso360ctl tail: the last rows of today's observation or Support file, optionally following it."""

import threading

import click

from meso360.ctl.newest import complete_size, last_lines, support_files, today_or_newest, utc_today_name
from meso360.datafile import daily_files, read_complete_lines
from meso360.signals import stop_on_signals

FOLLOW_INTERVAL_SECONDS = 0.5


def _current_file(config, kind):
    """Return (path, note) of today's file of `kind` (obs or support), else the newest one."""
    if kind == "obs":
        return today_or_newest(daily_files(config.general.data_dir), utc_today_name())
    return today_or_newest(support_files(config.general.support_dir), utc_today_name(suffix="_support.txt"))


def follow(config, kind, path, offset, stop_event):
    """Print complete lines appended to `path` from `offset`, moving on to the next day's file, until stop_event."""
    while not stop_event.is_set():
        try:
            lines, offset = read_complete_lines(path, offset)
        except FileNotFoundError:
            lines = []
        for line in lines:
            click.echo(line)
        newest, _ = _current_file(config, kind)
        if newest is not None and newest != path and newest.name > path.name:
            # The date changed: finish the old file first (late rows), then switch.
            lines, offset = read_complete_lines(path, offset)
            for line in lines:
                click.echo(line)
            click.echo(f"==> {newest} <==", err=True)
            path, offset = newest, 0
            continue
        if not lines:
            stop_event.wait(FOLLOW_INTERVAL_SECONDS)


@click.command()
@click.argument("kind", type=click.Choice(["obs", "support"]), default="obs", required=False)
@click.option("-n", "--lines", "count", type=click.IntRange(min=0), default=10, show_default=True, metavar="N")
@click.option("-f", "--follow", "follow_file", is_flag=True, help="Keep printing new rows (Ctrl-C stops).")
@click.pass_obj
def tail(ctl, kind, count, follow_file):
    """Print the last N rows of today's (UTC) observation file (obs) or Support file (support).

    Falls back to the newest file when there is none for today. With -f, keeps printing rows as
    the ingest daemon appends them, and moves on to the next file at midnight.
    """
    config = ctl.config
    path, note = _current_file(config, kind)
    if path is None:
        where = config.general.data_dir if kind == "obs" else config.general.support_dir
        raise click.ClickException(f"no {kind} files in {where}")
    if note:
        click.echo(f"note: {note}", err=True)
    stop_event = threading.Event()
    if follow_file:
        # Ctrl-C or kill -INT/-TERM: a clean exit 0, even as a background job. Installed before the first row is
        # printed: a Ctrl-C as soon as it shows must not land on the default handler (KeyboardInterrupt, exit 1).
        stop_on_signals(stop_event)
    # Where following starts is fixed before printing: a row appended meanwhile is printed once, by follow.
    offset = complete_size(path)
    for line in last_lines(path, count, end=offset):
        click.echo(line)
    if follow_file:
        follow(config, kind, path, offset, stop_event)
