"""A throwaway PostgreSQL cluster for tests and benchmarks: ``initdb`` into a temporary folder.

Started as the ``postgres`` system user when the process runs as root (``initdb`` refuses root), as
the current user otherwise; unix socket in the temporary folder and TCP on a free loopback port;
stopped with ``pg_ctl stop -m immediate`` (also at interpreter exit after a crash of the caller).
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import attrs

from .cli import free_port

#: Throwaway data: no fsync (the tests prove logic, not the disk); the bench starts with durability on.
FAST = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


class ClusterUnavailable(RuntimeError):
    """PostgreSQL cannot be started here (binaries missing, no unprivileged user...): tests skip."""


_WATCHDOG = """
import os, shutil, subprocess, sys, time
owner, base, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
while os.path.exists(base):
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        if os.path.exists(os.path.join(base, "data", "postmaster.pid")):
            subprocess.run(stop, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        shutil.rmtree(base, ignore_errors=True)
        break
    time.sleep(1)
"""


def bindir() -> Path:
    """The folder holding initdb/pg_ctl: on PATH, or Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("pg_ctl")
    if found and Path(found).resolve().parent.joinpath("initdb").exists():
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if versions:
        return Path(versions[-1]).parent
    raise ClusterUnavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed "
                             "(Debian: apt-get install postgresql; `make test` does it as root)")


def _reachable_tmp() -> str | None:
    """A temporary folder the unprivileged server user can reach (a 0700 /tmp is not)."""
    for candidate in (tempfile.gettempdir(), "/var/tmp", "/dev/shm"):
        path = Path(candidate).resolve()
        if path.is_dir() and all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents)):
            return str(path)
    return None


@attrs.define
class PgCluster:
    """One running cluster; ``url(db)`` gives a libpq URL, ``create_database`` a fresh database."""

    base: Path
    port: int
    bin: Path
    as_user: str | None
    _count: int = 0

    @classmethod
    def start(cls, settings: tuple[str, ...] = FAST) -> PgCluster:
        pg_bin = bindir()
        as_user = "postgres" if os.geteuid() == 0 else None
        base = Path(tempfile.mkdtemp(prefix="mcn-pg-", dir=_reachable_tmp() if as_user else None))
        if as_user is not None:
            try:
                shutil.chown(base, user=as_user)
            except (LookupError, OSError) as exc:
                shutil.rmtree(base, ignore_errors=True)
                raise ClusterUnavailable(f"running as root and no usable '{as_user}' system user: {exc}") from exc
        cluster = cls(base=base, port=free_port(), bin=pg_bin, as_user=as_user)
        try:
            cluster._run("initdb", "-D", str(base / "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                         "--locale=C", "--no-sync")
            options = [f"-p {cluster.port}", f"-k {base}", "-c listen_addresses=127.0.0.1",
                       "-c max_connections=100", *(f"-c {s}" for s in settings)]
            cluster._run("pg_ctl", "-D", str(base / "data"), "-l", str(base / "log"), "-w", "-t", "30",
                         "-o", " ".join(options), "start")
        except ClusterUnavailable:
            cluster.stop()
            raise
        atexit.register(cluster.stop)
        cluster._watch(os.getpid())
        return cluster

    def _watch(self, owner: int) -> None:
        """A small process that stops the cluster when ``owner`` dies, even by kill -9 (atexit does not run)."""
        stop = [str(self.bin / "pg_ctl"), "-D", str(self.base / "data"), "-m", "immediate", "-w", "stop"]
        if self.as_user is not None:
            stop = ["runuser", "-u", self.as_user, "--", *stop]
        subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(owner), str(self.base), *stop],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if self.as_user is not None:
            cmd = ["runuser", "-u", self.as_user, "--", *cmd]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=self.base)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ClusterUnavailable(f"{tool} could not run: {exc}") from exc
        if done.returncode != 0:
            log = self.base / "log"
            tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
            raise ClusterUnavailable(f"{tool} failed ({done.returncode}): {done.stderr.strip()[-800:]} {tail}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        """A fresh, empty database (from template0) and its URL."""
        import psycopg

        self._count += 1
        name = f"{prefix}_{os.getpid()}_{self._count}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def stop(self) -> None:
        if not self.base.exists():
            return
        if (self.base / "data" / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.base / "data"), "-m", "immediate", "-w", "stop")
            except ClusterUnavailable:
                pass
        shutil.rmtree(self.base, ignore_errors=True)
