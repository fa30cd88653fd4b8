"""Test helpers for the core, the plugins and vendors: a test PKI, a running TLS simulator and a
configured :class:`Context`, in a few lines.

    env = SimEnv.start(tmp_path)            # PKI + simulator on a free loopback port + config.toml
    ctx = env.context()                      # the dentist
    office = env.context(mandatary=True)     # a billing office with its own keystore
    ...
    env.stop()

The simulator clock and the client clock can be pinned with ``clock=``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from ..config import load_config
from ..context import Context
from ..plugins import PluginManager, make_plugin_manager
from ..storage import Storage


@attrs.define
class SimEnv:
    """A simulator running over TLS on loopback, with its PKI folder and client configurations."""

    pki_dir: Path
    pki: Any
    server: Any
    app: Any
    config_path: Path
    mandatary_config_path: Path
    pm: PluginManager
    env: dict[str, str]

    @classmethod
    def start(cls, workdir: Path, *, pm: PluginManager | None = None, key_type: str = "rsa",
              sim_clock: Callable[[], datetime] | None = None) -> SimEnv:
        import secrets

        from .cli import LICENCE_USER, make_simulator, read_env_file, write_simulator_config
        from .pki import generate_pki
        from .server import SimulatorServer

        pm = pm or make_plugin_manager()
        pki = generate_pki(workdir, key_type=key_type)
        licence_password = secrets.token_urlsafe(9)
        write_simulator_config(pki, workdir, port=0, licence_password=licence_password)
        app = make_simulator(pm, workdir, clock=sim_clock)
        app.state.licences[LICENCE_USER] = licence_password
        server = SimulatorServer(app, pki_dir=workdir, port=0).start()
        config, mandatary = write_simulator_config(pki, workdir, port=server.port, licence_password=licence_password)
        env = read_env_file(workdir)
        os.environ.update(env)
        return cls(pki_dir=workdir, pki=pki, server=server, app=app, config_path=config,
                   mandatary_config_path=mandatary, pm=pm, env=env)

    @classmethod
    def start_process(cls, workdir: Path, *, key_type: str = "rsa", timeout: float = 30.0) -> SimEnv:
        """The same, with the simulator in its own process (``simulator serve``), as the real insurer
        is: benchmarks then measure the client without sharing its interpreter with the server.
        ``state`` and ``app`` are not available (the simulator lives in the other process)."""
        import socket
        import subprocess
        import sys
        import time

        from .cli import free_port, read_env_file

        port = free_port()
        cli = [sys.executable, "-m", "mycarenet_dental"]
        subprocess.run([*cli, "simulator", "pki", "--out", str(workdir), "--key-type", key_type, "--port", str(port)],
                       check=True, stdout=subprocess.DEVNULL)
        process = subprocess.Popen([*cli, "simulator", "serve", "--pki", str(workdir), "--port", str(port)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    raise RuntimeError("the simulator process did not start") from None
                time.sleep(0.1)
        env = read_env_file(workdir)
        os.environ.update(env)
        return cls(pki_dir=workdir, pki=None, server=_ProcessServer(process), app=None,
                   config_path=workdir / "config.toml", mandatary_config_path=workdir / "config-mandatary.toml",
                   pm=make_plugin_manager(), env=env)

    @property
    def state(self) -> Any:
        if self.app is None:
            raise RuntimeError("the simulator runs in another process: its state is not reachable")
        return self.app.state

    @classmethod
    @contextlib.contextmanager
    def running(cls, workdir: Path, **kwargs: Any) -> Iterator[SimEnv]:
        """``with SimEnv.running(tmp) as env:`` -- started, and stopped whatever happens."""
        env = cls.start(workdir, **kwargs)
        try:
            yield env
        finally:
            env.stop()

    def context(self, *, mandatary: bool = False, clock: Callable[[], datetime] | None = None,
                storage: Storage | Path | None = None, tables: Mapping[str, Mapping[str, Any]] | None = None,
                rules_disabled: Sequence[str] = (), profile: str | None = None, trace_dir: Path | None = None,
                **overrides: Any) -> Context:
        """The dentist's (or with ``mandatary=True`` the office's) context on this simulator: the one way
        tests build a :class:`Context`. ``storage`` gives it a store of its own (a path or a
        :class:`Storage`); ``tables`` replaces whole config tables (``{"tariff": {"max_per_minute": 10_000}}``);
        ``rules_disabled`` adds rule ids to the configured ones; ``profile``/``trace_dir`` as for
        :meth:`Context.from_config`."""
        os.environ.update(self.env)
        path = self.mandatary_config_path if mandatary else self.config_path
        config = load_config(path, profile=profile).with_trace(trace_dir)
        if tables:
            config = attrs.evolve(config, raw={**config.raw, **{name: dict(t) for name, t in tables.items()}})
        if rules_disabled:
            config = attrs.evolve(config, rules_disabled=config.rules_disabled + tuple(rules_disabled))
        if isinstance(storage, Path):
            storage = Storage(storage)
        if storage is not None:
            overrides["storage"] = storage
        return Context(config, pm=self.pm, clock=clock, **overrides)

    def stop(self) -> None:
        self.server.stop()


class _ProcessServer:
    """A simulator running in a child process."""

    def __init__(self, process: Any) -> None:
        self.process = process

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except Exception:  # pragma: no cover - a stuck child
            self.process.kill()
