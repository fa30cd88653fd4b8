"""Every outcome of a command line mapped to one exit code of :class:`~mycarenet_dental.errors.ExitCode`.

The one place where the contract is applied (``docs/exit-codes.md`` documents it): typed errors carry
their code, click's usage errors are 2, a command's ``Exit(n)``/``sys.exit(n)`` is n, anything else
is a defect (4) reported with a short message and a private traceback file. With ``--json`` every
error is a JSON body on stdout with the same ``exit_code``.
"""

from __future__ import annotations

import os

import click

from ..errors import ExitCode, MyCareNetDentalError
from . import print_json

INTERRUPTED = 130  # the shell's convention for Ctrl-C (128 + SIGINT), not a verdict on the command
_CODES = frozenset(int(code) for code in ExitCode) | {INTERRUPTED}


def run(cli: click.Command, args: list[str], *, as_json: bool) -> int:
    """Run the command line; print what went wrong (plain on stderr, or JSON on stdout); the exit code.

    ``cli`` must discard its commands' return values (the root group does): click, when not standalone,
    returns a command's ``Exit(n)`` as ``n`` and a command's return value alike, so only then is a
    number here certainly an exit code — the defect that once let ``billing validate`` exit 0.
    """
    try:
        rv = cli.main(args=args, prog_name="mycarenet-dental", standalone_mode=False)
        return _checked(rv if isinstance(rv, int) and not isinstance(rv, bool) else 0, as_json)
    except SystemExit as done:  # sys.exit(n) in a command
        code = done.code
        if code is None or isinstance(code, int):
            return _checked(code or 0, as_json)
        return report(MyCareNetDentalError(str(code)), as_json)
    except MyCareNetDentalError as exc:
        return report(exc, as_json)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):
            return INTERRUPTED
        return _usage("aborted", "ABORTED", as_json)
    except click.ClickException as exc:  # bad option, missing argument, unreadable file: usage
        if as_json:
            return _usage(exc.format_message(), "USAGE", as_json)
        exc.show()
        return ExitCode.USAGE
    except click.exceptions.Exit as exc:
        return _checked(exc.exit_code, as_json)
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:
        return ExitCode.OK  # the reader (``| head``) went away: not a failure of the command
    except Exception as exc:  # noqa: BLE001 — last resort: a defect
        if os.environ.get("MYCARENET_DENTAL_DEBUG"):
            raise
        return internal_error(exc, as_json)


def _checked(code: int, as_json: bool) -> int:
    """A command's own exit code, if it is one of the contract's (a plugin's ``Exit(7)`` is a defect)."""
    if code in _CODES:
        return int(code)
    message = f"the command exited with code {code}, which is not in the exit-code contract (0-4)"
    if as_json:
        print_json({"error": "InternalError", "code": "INTERNAL", "message": {"en": message},
                    "exit_code": int(ExitCode.INTERNAL)})
    else:
        click.echo(f"error: {message}; please report it to the plugin's author", err=True)
    return ExitCode.INTERNAL


def report(exc: MyCareNetDentalError, as_json: bool) -> int:
    """A typed error: its JSON body (with ``exit_code``) or ``error: …`` on stderr; its exit code."""
    if as_json:
        print_json(exc.to_dict())
    else:
        click.echo(f"error: {exc}", err=True)
    return int(exc.exit_code)


def _usage(message: str, code: str, as_json: bool) -> int:
    if as_json:
        print_json({"error": "UsageError", "code": code, "origin": "cli", "message": {"en": message},
                    "exit_code": int(ExitCode.USAGE)})
    else:
        click.echo(f"error: {message}", err=True)
    return ExitCode.USAGE


def internal_error(exc: BaseException, as_json: bool) -> int:
    """A defect: its type only (its message may quote input: a password, an SSIN) and the private file
    holding the traceback. ``MYCARENET_DENTAL_DEBUG=1`` re-raises it instead, for a developer."""
    where = write_traceback()
    detail = f"are in {where} (private file)" if where else "are not shown"
    message = (f"internal error ({type(exc).__name__}); the details may hold personal data, so they {detail}. "
               "Please report it (MYCARENET_DENTAL_DEBUG=1 shows the traceback here).")
    if as_json:
        print_json({"error": "InternalError", "code": "INTERNAL", "message": {"en": message},
                    "traceback_file": where, "exit_code": int(ExitCode.INTERNAL)})
    else:
        click.echo(f"error: {message}", err=True)
    return ExitCode.INTERNAL


def write_traceback() -> str | None:
    """Write the current exception's traceback to a new 0600 file; its path, or None if that fails."""
    import tempfile
    import traceback

    try:
        fd, path = tempfile.mkstemp(prefix="mycarenet-dental-error-", suffix=".txt")  # 0600 by mkstemp
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(traceback.format_exc())
        return path
    except OSError:
        return None

