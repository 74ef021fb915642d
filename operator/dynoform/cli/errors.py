"""The CLI's errors and their exit codes.

Heroku's CLI exits 2 for a usage mistake and 1 for anything the platform refused; we keep that,
so a script can tell "I typed it wrong" from "the cluster said no". Every error means nothing was
changed, unless its message says otherwise.
"""

from __future__ import annotations

USAGE = 2
FAILED = 1


class CliError(Exception):
    """A failure to report as Heroku does (` !    message`) and exit with `code`."""

    code = FAILED


class UsageError(CliError):
    """The command line itself is wrong (a malformed argument, a missing flag)."""

    code = USAGE


class AlreadyExists(CliError):
    """A create found the name taken."""


class NotFound(CliError):
    """The object does not exist."""
