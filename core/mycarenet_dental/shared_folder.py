"""Where the project's reference folder ``shared`` is: official XSDs, recorded real messages, the spec.

It is not part of an installed package: a development checkout finds it beside the project
(``<checkout>/../shared``), or wherever ``$MYCARENET_DENTAL_SHARED`` points. Setting that variable
overrides the search entirely (set it to a missing path to run as if the folder were absent: the tests
that need it then skip). The schema loader and every test look it up here, nowhere else.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_SHARED = "MYCARENET_DENTAL_SHARED"


def shared_candidates() -> list[Path]:
    """The places searched, in order: ``$MYCARENET_DENTAL_SHARED`` alone when set, else ``shared`` beside
    the checkout this module is in, beside the working directory, then in it."""
    env = os.environ.get(ENV_SHARED)
    if env is not None:
        return [Path(env)]
    here = Path(__file__).resolve()
    # editable/dev checkout: <root>/core/mycarenet_dental/shared_folder.py -> <root>/../shared
    return [p / "shared" for p in (here.parents[2].parent, Path.cwd().parent, Path.cwd())]


def shared_dir() -> Path | None:
    """The shared folder, or None when it is not on this machine."""
    return next((p for p in shared_candidates() if p.is_dir()), None)


def shared_path(*parts: str) -> Path:
    """``parts`` under the shared folder; when the folder is absent, under where it would be (the path
    then does not exist, and a caller checks ``exists()`` and skips)."""
    return (shared_dir() or shared_candidates()[0]).joinpath(*parts)
