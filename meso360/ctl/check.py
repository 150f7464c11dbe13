"""meso360ctl check: preflight before a deployment; PASS/WARN/FAIL lines with the fix for each problem."""

import click

from meso360.errors import EXIT_CONFIG, ConfigError

EXIT_PASSED = 0
EXIT_FAILED = 1


def run_checks(config):
    """Given a valid Config, return every Result (logger checks talk to the logger over HTTP)."""
    from meso360.ctl import preflight  # imports requests (the logger client): only when check runs

    results = [preflight.Result("PASS", "config", f"{config.path} is valid")]
    for key in ("data_dir", "support_dir", "state_dir"):
        results.append(preflight.check_directory(key, getattr(config.general, key)))
    results += preflight.check_unit_paths(config)
    results += preflight.check_logger(config)
    results += preflight.check_tunnel(config)
    return results


def print_result(result):
    color = {"PASS": "green", "WARN": "yellow", "FAIL": "red"}.get(result.level)
    label = click.style(f"{result.level:<4}", fg=color, bold=result.level == "FAIL")
    click.echo(f"{label} {result.name}: {result.message}")
    if result.fix:
        click.echo(f"     fix: {result.fix}")


@click.command()
@click.pass_obj
def check(ctl):
    """Preflight check: config, data directories, logger, clocks, tunnel key.

    \b
    Checks that the config is valid; data_dir, support_dir and state_dir are writable by the
    meso360-ingest user (or by you when it does not exist); the logger answers DataQuery with the 19
    Obs fields; the host, logger and GPS clocks agree (WARN over 2 s, FAIL over 60 s); and, when
    the tunnel is configured, its key is present and private and the bastion host key is pinned.

    \b
    Exit codes: 0 no FAIL (WARNs allowed), 1 at least one FAIL, 78 config invalid.
    """
    try:
        config = ctl.config
    except ConfigError as error:
        for problem in error.problems:
            print_result(_fail_config(problem))
        raise SystemExit(EXIT_CONFIG) from None
    results = run_checks(config)
    for result in results:
        print_result(result)
    failed = sum(result.level == "FAIL" for result in results)
    warned = sum(result.level == "WARN" for result in results)
    click.echo(f"\n{failed} failed, {warned} warnings, {len(results) - failed - warned} passed or skipped")
    raise SystemExit(EXIT_FAILED if failed else EXIT_PASSED)


def _fail_config(problem):
    from meso360.ctl.preflight import Result  # see run_checks: preflight imports requests

    return Result("FAIL", "config", problem, "edit the file; `meso360ctl config example` shows every key")
