"""``batmux run``'s config check, in a short-lived process: pydantic validates, records return.

``python -P -m batmux.config_child FILE`` runs the loader ``batmux check-config`` runs (strict
YAML, every validator and cross-check, full ``batmux.modelkit`` mode). Valid: it writes the tree
as ``marshal``-ed records (``batmux.config_records``) to stdout and exits 0. Not valid: it
prints the one ``batmux: file: field: reason`` line and exits with the code ``batmux run`` has
always used (2).

``load_checked`` is the parent's side: it starts the child, imports meanwhile what every gateway
needs, and builds its config from the records with the slim models, so the long-running process
never imports pydantic, pydantic_core or PyYAML. The child's stderr is passed on as it came.
"""

from __future__ import annotations

import importlib
import marshal
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from batmux.config_records import from_record, to_record
from batmux.errors import EXIT_CONFIG, ConfigError

if TYPE_CHECKING:
    from batmux.config import Config

EXIT_NOT_CHECKED = 1  # the check itself did not finish (killed): not a config error
CHECK_TIMEOUT_S = 60.0  # a config on a stalled network share must not hang start-up


def load_reported(file: str) -> Config | int:
    """The config, or ``EXIT_CONFIG`` after one ``batmux: file: field: reason`` line on stderr
    (``run`` and ``check-config`` in the CLI, and this child).

    Anything the checks missed is still a config error (exit 2, one line, no traceback):
    systemd stops on exit 2, while any other code would restart batmux forever.
    """
    from batmux.config import load_config

    try:
        return load_config(file)
    except ConfigError as exc:
        message = str(exc)
    except Exception as exc:  # a check that should have caught it: say what, not a traceback
        message = f"{file}: unreadable config ({type(exc).__name__}: {exc!s:.120})"
    print(f"batmux: {message}", file=sys.stderr)
    return EXIT_CONFIG


def load_checked(file: str, while_waiting: Iterable[str] = ()) -> Config | int:
    """The config of ``file`` validated in a child process, or the exit code after its error
    line on stderr. ``while_waiting``: modules to import while the child works."""
    import subprocess  # here: the child itself needs none of it

    command = [sys.executable, "-P", "-m", "batmux.config_child", file]
    try:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        print(f"batmux: {file}: cannot start the config check: {exc}", file=sys.stderr)
        return EXIT_NOT_CHECKED
    with child:
        for module in while_waiting:
            importlib.import_module(module)
        try:
            out, err = child.communicate(timeout=CHECK_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            out, err = child.communicate()
            return _not_checked(file, f"it took longer than {CHECK_TIMEOUT_S:.0f} s", err)
    if child.returncode == EXIT_CONFIG:  # the child printed the config's error line
        sys.stderr.write(err.decode(errors="replace"))
        return EXIT_CONFIG
    if child.returncode < 0:
        return _not_checked(file, f"it ended by signal {-child.returncode}", err)
    if child.returncode > 0:
        return _not_checked(file, f"it failed (exit {child.returncode})", err)
    sys.stderr.write(err.decode(errors="replace"))
    try:
        return from_record(marshal.loads(out))
    except Exception as exc:  # garbage, nothing, or records of another batmux version
        return _not_checked(file, f"its result is unusable ({type(exc).__name__}: {exc!s:.80})")


def _not_checked(file: str, why: str, err: bytes = b"") -> int:
    """The check itself did not finish: the child's own output, then one line; exit 1, so a
    supervisor restarts batmux (exit 2 would stop it for a config error that is not one)."""
    sys.stderr.write(err.decode(errors="replace"))
    print(f"batmux: {file}: the config check did not finish: {why}", file=sys.stderr)
    return EXIT_NOT_CHECKED


def main(argv: Sequence[str]) -> int:
    records_out = sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout carries the records and nothing else
    config = load_reported(argv[0])
    if isinstance(config, int):
        return config
    try:
        records = marshal.dumps(to_record(config))
    except Exception as exc:  # a field the records cannot carry: a bug, said in one line
        message = f"{argv[0]}: cannot pass the checked config on: {exc!s:.120}"
        print(f"batmux: {message}", file=sys.stderr)
        return EXIT_NOT_CHECKED
    records_out.write(records)
    records_out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
