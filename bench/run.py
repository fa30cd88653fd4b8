"""``make bench``: run every benchmark script of this folder and print its figures.

Figures are printed as ratios to a floor measured in the same run (machines here are noisy);
nothing is asserted. Each script runs in its own process so one failing bench does not hide
the others.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    scripts = [HERE / "bench_core.py"] + sorted(p for p in HERE.glob("bench_*.py") if p.name != "bench_core.py")
    failed = 0
    for script in scripts:
        print(f"--- {script.stem}", flush=True)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, timeout=900)
        print(f"    ({time.perf_counter() - start:.1f} s)", flush=True)
        if proc.returncode:
            failed += 1
            print(f"    {script.name} exited {proc.returncode}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
