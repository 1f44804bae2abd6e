"""Wall time and peak memory of one child process.

Every stage runs as its own process and its peak resident set is the kernel's
``ru_maxrss`` for that process, read with ``os.wait4`` (dbt and cdp-sync use
threads, not subprocesses, so one process is the whole stage).

Linux keeps the high-water RSS of the image a process had before ``exec``: a
child forked straight from the harness (hundreds of MiB: DuckDB, pyarrow, the
loopback webhook's state) would report at least the harness's size. So every
stage is started through a tiny launcher (``python -S``, ~6 MiB) that forks,
execs the command, reaps it with ``wait4`` and writes its rusage to a file.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Runs as `python -S -c LAUNCHER <result.json> <cmd...>`; exits with the command's exit code.
LAUNCHER = r"""
import json, os, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
with open(out + ".pid", "w") as fh:
    fh.write(str(pid))
_, status, ru = os.wait4(pid, 0)
code = os.waitstatus_to_exitcode(status)
with open(out, "w") as fh:
    json.dump({"wall_s": time.perf_counter() - started, "maxrss": ru.ru_maxrss,
               "cpu_s": ru.ru_utime + ru.ru_stime, "returncode": code}, fh)
sys.exit(code if 0 <= code < 256 else 1)
"""


@dataclass
class Measurement:
    """One measured stage. ``wall_s``/``peak_rss_mb`` are None when it did not run."""

    stage: str
    label: str = ""
    wall_s: float | None = None
    peak_rss_mb: float | None = None
    cpu_s: float | None = None
    returncode: int | None = None
    status: str = "ok"  # ok | failed | timeout | n/a | skipped
    note: str = ""
    command: str = ""
    log: str = ""
    load_before: float | None = None
    load_after: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def clean_stale_duckdb_temp(directories: Sequence[Path]) -> int:
    """Delete DuckDB spill files (``duckdb_temp_<pid>_*``) of processes that no longer exist:
    a killed stage leaves them behind, and at 1M people they are tens of GB."""
    freed = 0
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in directory.glob("duckdb_temp_*"):
            pid = path.name.split("_")[2] if path.name.count("_") >= 2 else ""
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                with suppress(OSError):
                    freed += path.stat().st_size
                    path.unlink()
    return freed


def loadavg() -> float:
    with suppress(OSError):
        return round(os.getloadavg()[0], 2)
    return -1.0


def _maxrss_mb(maxrss: float) -> float:
    # Linux reports kilobytes, macOS bytes.
    kb = maxrss / 1024 if sys.platform == "darwin" else maxrss
    return round(kb / 1024, 1)


class RssSampler(threading.Thread):
    """Polls the measured process's resident set (``/proc/<pid>/status``) every ``interval``
    seconds, so memory can be attributed to what the process was doing at the time."""

    def __init__(
        self,
        pid_file: str,
        interval: float = 0.5,
        limit_mb: float | None = None,
        on_limit: Callable[[str], None] | None = None,
        disk_paths: Sequence[Path] = (),
        min_free_gb: float | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.pid_file, self.interval = pid_file, interval
        self.limit_mb, self.on_limit = limit_mb, on_limit
        self.disk_paths, self.min_free_gb = list(disk_paths), min_free_gb
        self.samples: list[tuple[float, float]] = []  # (unix time, RSS MiB)
        self.stop = threading.Event()
        self.exceeded = False

    def _disk_low(self) -> str | None:
        if not self.min_free_gb:
            return None
        for path in self.disk_paths:
            with suppress(OSError):
                free = shutil.disk_usage(path).free / 2**30
                if free < self.min_free_gb:
                    return f"killed: {free:.1f} GiB left on the disk of {path} (--min-free-disk-gb)"
        return None

    def run(self) -> None:
        pid = None
        while not self.stop.is_set():
            if pid is None:
                with suppress(OSError, ValueError):
                    pid = int(Path(self.pid_file).read_text())
            if pid is not None:
                try:
                    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
                        for line in fh:
                            if line.startswith("VmRSS:"):
                                rss = int(line.split()[1]) / 1024
                                self.samples.append((time.time(), rss))
                                if self.limit_mb and rss > self.limit_mb and not self.exceeded:
                                    self.exceeded = True
                                    if self.on_limit:
                                        self.on_limit(
                                            f"killed: resident set passed {self.limit_mb:,.0f} MiB "
                                            "(--max-rss-mb)"
                                        )
                                break
                except OSError:
                    pass
            low = self._disk_low()
            if low and not self.exceeded:
                self.exceeded = True
                if self.on_limit:
                    self.on_limit(low)
            self.stop.wait(self.interval)


def run_measured(
    stage: str,
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    log_path: Path | None = None,
    timeout: float | None = None,
    label: str = "",
    sample_rss: bool = False,
    max_rss_mb: float | None = None,
    disk_paths: Sequence[Path] = (),
    min_free_disk_gb: float | None = None,
) -> Measurement:
    """Run ``cmd`` to completion; its output goes to ``log_path``.

    On timeout the whole process group is killed and the stage reports
    ``timeout`` with the time it had run. With ``sample_rss`` the resident set
    is polled twice a second and kept in ``extra["rss_samples"]``; with
    ``max_rss_mb`` a process growing beyond it is killed (a shared machine's
    guard) and the stage reports ``killed``.
    """
    m = Measurement(stage=stage, label=label or stage, command=" ".join(map(str, cmd)))
    log_path = log_path or Path(os.devnull)
    if log_path != Path(os.devnull):
        log_path.parent.mkdir(parents=True, exist_ok=True)
        m.log = str(log_path)
    m.load_before = loadavg()
    timed_out = threading.Event()
    fd, result_file = tempfile.mkstemp(prefix="bench-rusage-", suffix=".json")
    os.close(fd)
    launched = [sys.executable, "-S", "-c", LAUNCHER, result_file, *[str(c) for c in cmd]]
    over_limit: list[str] = []
    proc_holder: list[subprocess.Popen[bytes]] = []

    def _kill_for_resources(why: str) -> None:
        over_limit.append(why)
        if proc_holder:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(proc_holder[0].pid, signal.SIGKILL)

    sampler = None
    if (sample_rss or max_rss_mb or min_free_disk_gb) and sys.platform == "linux":
        sampler = RssSampler(
            result_file + ".pid",
            limit_mb=max_rss_mb,
            on_limit=_kill_for_resources,
            disk_paths=disk_paths,
            min_free_gb=min_free_disk_gb,
        )
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(
            launched,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        proc_holder.append(proc)
        if sampler:
            sampler.start()

        def _kill() -> None:
            timed_out.set()
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, _kill) if timeout else None
        if timer:
            timer.daemon = True
            timer.start()
        try:
            _, status, ru = os.wait4(proc.pid, 0)
        except KeyboardInterrupt:
            _kill()
            raise
        finally:
            if timer:
                timer.cancel()
        m.wall_s = round(time.perf_counter() - started, 3)
        proc.returncode = os.waitstatus_to_exitcode(status)
    m.returncode = proc.returncode
    try:
        with open(result_file, encoding="utf-8") as fh:
            inner = json.load(fh)
        m.wall_s = round(inner["wall_s"], 3)
        m.peak_rss_mb = _maxrss_mb(inner["maxrss"])
        m.cpu_s = round(inner["cpu_s"], 2)
        m.returncode = inner["returncode"]
    except (OSError, ValueError, KeyError):
        # killed before it could report: the launcher's own figures are all there is
        m.cpu_s = round(ru.ru_utime + ru.ru_stime, 2)
    finally:
        Path(result_file).unlink(missing_ok=True)
        Path(result_file + ".pid").unlink(missing_ok=True)
    if sampler:
        sampler.stop.set()
        sampler.join(timeout=2)
        m.extra["rss_samples"] = [(round(t, 2), round(r, 1)) for t, r in sampler.samples]
    m.load_after = loadavg()
    if over_limit:
        m.status, m.note = "killed", over_limit[0]
        m.peak_rss_mb = max((round(r, 1) for _, r in (sampler.samples if sampler else [])), default=None)
    elif timed_out.is_set():
        m.status, m.note = "timeout", f"killed after {timeout:.0f}s"
    elif m.returncode != 0:
        m.status = "failed"
        m.note = f"exit {m.returncode}; see {m.log or 'output'}"
    return m


@contextmanager
def timed() -> Any:
    """``with timed() as t: ...`` then ``t.seconds``: wall time of an in-process step."""

    class _T:
        seconds = 0.0

    t = _T()
    started = time.perf_counter()
    try:
        yield t
    finally:
        t.seconds = round(time.perf_counter() - started, 3)


def in_process(stage: str, fn: Callable[[], Any], label: str = "", note: str = "") -> Measurement:
    """Time a step run inside the harness (memory is not attributed: peak_rss_mb stays None)."""
    m = Measurement(stage=stage, label=label or stage, note=note)
    m.load_before = loadavg()
    before = resource.getrusage(resource.RUSAGE_SELF)
    with timed() as t:
        result = fn()
    after = resource.getrusage(resource.RUSAGE_SELF)
    m.wall_s = t.seconds
    m.cpu_s = round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2)
    m.load_after = loadavg()
    if isinstance(result, dict):
        m.extra.update(result)
    return m
