"""The meso360 exception family and the process exit codes, in one place."""

# sysexits.h EX_CONFIG: systemd units list it in RestartPreventExitStatus= so a broken
# config fails once instead of restart-looping.
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CONFIG = 78
EXIT_BAD_ARGUMENT = 64  # sysexits.h EX_USAGE: an argument's value is not valid (meso360ctl export --from)
EXIT_DATA = 65  # sysexits.h EX_DATAERR: an input file is not what it must be (meso360ctl fleet authorize KEYFILE)


class Meso360Error(Exception):
    """Base of every error meso360 raises on purpose."""


class ConfigError(Meso360Error):
    """The configuration file is missing, unreadable or invalid."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class LoggerError(Meso360Error):
    """The datalogger could not be reached or gave an answer we cannot use."""


class TunnelError(Meso360Error):
    """The reverse tunnel could not be set up or verified."""
