"""Benchmarks: the data generator (`cdp_datagen`) and the harness (`python -m bench.run`).

Importing the harness makes the project's packages importable from a plain
checkout (the sync CLI in `sync/`, the generator in `bench/`), as `make setup`'s
editable install would.
"""

import sys
from pathlib import Path

_PROJECT = Path(__file__).resolve().parents[1]
for _path in (_PROJECT / "sync", _PROJECT / "bench", _PROJECT):
    if str(_path) not in sys.path:
        sys.path.append(str(_path))
