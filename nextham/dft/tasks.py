"""One DFT structure = one idempotent task, keyed by a hash of what it computes, run through submitit.

A task's result is a one-structure shard ``<key>.h5`` plus ``<key>.json`` (written last, so its
presence means the shard is complete) in the run's task folder. The key hashes the geometry, the
spin–orbit flag and the engine settings, so a task computed once is never computed again: a killed
driver, a killed worker or a Slurm job that finishes after its driver died leave their results where
the next run collects them.

Executors (``executor.cluster``): ``local`` runs each task as a local process, at most ``workers`` at
a time; ``slurm`` submits one job array (``workers`` tasks at a time) when ``srun`` exists; ``null``
picks Slurm when it is there and local processes otherwise.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_write
from ..io.shards import ShardReader, write_shard

# settings that change where or how fast a structure is computed, not its result
_KEY_NEUTRAL_SETTINGS = ("device", "kpoint_chunk")
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def content_key(spec, engine_settings: dict) -> str:
    """Hash of the geometry (to 1e-8 Å), elements, spin–orbit flag and engine settings of a structure."""
    settings = {k: v for k, v in engine_settings.items() if k not in _KEY_NEUTRAL_SETTINGS}
    payload = {
        "symbols": list(spec.symbols),
        "positions": np.round(np.asarray(spec.positions, dtype=np.float64), 8).tolist(),
        "lattice": np.round(np.asarray(spec.lattice, dtype=np.float64), 8).tolist(),
        "soc": bool(spec.soc),
        "engine": settings,
    }
    text = json.dumps(payload, sort_keys=True, default=str).replace("-0.0,", "0.0,")
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def set_threads(threads: int):
    for name in _THREAD_VARIABLES:
        os.environ[name] = str(threads)
    try:
        from pyscf import lib

        lib.num_threads(threads)
    except ImportError:  # pragma: no cover - pyscf is a dependency
        pass


@contextmanager
def _thread_environment(threads: int):
    """Child processes inherit the environment: set the thread count for them, restore it after."""
    saved = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
    for name in _THREAD_VARIABLES:
        os.environ[name] = str(threads)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class TaskFailed(RuntimeError):
    """A task that ended without a record; its message is the reason as the worker or driver gave it."""


class TaskFolder:
    """The results of finished tasks, one pair of files per key."""

    def __init__(self, root):
        self.root = Path(root)

    def shard_path(self, key: str) -> Path:
        return self.root / f"{key}.h5"

    def status_path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def status(self, key: str) -> dict | None:
        try:
            return json.loads(self.status_path(key).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def write_done(self, key: str, label: str, record, basis: dict):
        write_shard(self.shard_path(key), [record])
        self._write_status(key, {"label": label, "status": "done", "basis": basis})

    def write_failed(self, key: str, label: str, reason: str):
        self._write_status(key, {"label": label, "status": "failed", "reason": reason})

    def _write_status(self, key, status):
        text = json.dumps(status, default=str)
        atomic_write(self.status_path(key), lambda temporary: Path(temporary).write_text(text))

    def outcome(self, key: str):
        """(record, basis dict) of a finished task, an exception for a failed one, None if not finished."""
        status = self.status(key)
        if status is None:
            return None
        if status["status"] == "failed":
            return TaskFailed(status["reason"])
        reader = ShardReader(self.shard_path(key))
        try:
            return reader.read(0), status["basis"]
        finally:
            reader.close()

    def forget(self, key: str):
        for path in (self.shard_path(key), self.status_path(key)):
            path.unlink(missing_ok=True)


def run_task(compute, spec, engine_settings: dict, folder: str, key: str, threads: int) -> str:
    """What a worker runs: compute one structure and leave its result (or failure) in the task folder.
    Idempotent: a task whose result is already there returns at once."""
    tasks = TaskFolder(folder)
    status = tasks.status(key)
    if status is not None and status["status"] == "done":
        return "done"
    set_threads(threads)
    try:
        record, basis = compute(spec, engine_settings)
    except Exception as error:
        tasks.write_failed(key, spec.label, f"{type(error).__name__}: {error}")
        return "failed"
    record.metadata["content_key"] = key
    tasks.write_done(key, spec.label, record, basis)
    return "done"


def make_executor(folder, cluster: str | None, workers: int, threads: int, options: dict | None = None):
    """A submitit executor: Slurm when ``cluster`` is 'slurm' (or None and ``srun`` exists), else local."""
    import submitit

    options = dict(options or {})
    if cluster is None:
        cluster = "slurm" if shutil.which("srun") else "local"
    if cluster not in ("local", "slurm"):
        raise ValueError(f"executor.cluster must be local, slurm or null (auto), not {cluster!r}")
    executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    parameters = {"timeout_min": int(options.pop("timeout_min", 24 * 60)), "cpus_per_task": threads}
    if cluster == "slurm":
        parameters["slurm_array_parallelism"] = workers
        parameters.update({k if k.startswith("slurm_") else f"slurm_{k}": v for k, v in options.items()})
    executor.update_parameters(**parameters)
    return executor


def run_tasks(items, compute, folder, workers: int, threads: int, cluster=None, options=None, on_outcome=None,
              poll_seconds: float = 0.5):
    """Run ``items`` = [(key, spec, engine_settings)] as submitit tasks; ``on_outcome(spec, key, outcome)``
    is called as each finishes (outcome: (record, basis) or an exception). Local processes run
    ``workers`` at a time; a Slurm array is submitted at once. Interrupting the driver cancels local
    tasks still running (their structures are recomputed next time) and leaves Slurm tasks running
    (their results are collected next time)."""
    tasks = TaskFolder(Path(folder) / "results")
    tasks.root.mkdir(parents=True, exist_ok=True)
    executor = make_executor(Path(folder) / "submitit", cluster, workers, threads, options)
    local = executor.cluster != "slurm"
    queue, running = list(items), {}

    def submit(batch):
        with _thread_environment(threads):
            if local:
                return [executor.submit(run_task, compute, spec, settings, str(tasks.root), key, threads)
                        for key, spec, settings in batch]
            return executor.map_array(run_task, [compute] * len(batch), [s for _, s, _ in batch],
                                      [e for _, _, e in batch], [str(tasks.root)] * len(batch),
                                      [k for k, _, _ in batch], [threads] * len(batch))

    def collect(job, key, spec):
        outcome = tasks.outcome(key)
        if outcome is None:
            try:
                job.result()
                outcome = TaskFailed("the task ended without leaving a result")
            except Exception as error:  # submitit wraps a killed worker in UncompletedJobError
                lines = str(error).strip().splitlines()
                outcome = TaskFailed(f"the worker died before finishing ({lines[0] if lines else type(error).__name__})")
        on_outcome(spec, key, outcome)

    try:
        if not local and queue:
            for job, item in zip(submit(queue), queue):
                running[job] = item
            queue = []
        while queue or running:
            while local and queue and len(running) < workers:
                item = queue.pop(0)
                running[submit([item])[0]] = item
            finished = [job for job in running if job.done()]
            for job in finished:
                key, spec, _ = running.pop(job)
                collect(job, key, spec)
            if not finished:
                time.sleep(poll_seconds)
    except BaseException:
        if local:
            for job in running:
                job.cancel(check=False)
        raise
