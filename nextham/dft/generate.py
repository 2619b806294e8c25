"""``nextham data generate``: a prototype library → DFT in parallel → validated shards, resumable.

Structures already in the output's manifest are skipped, so an interrupted run continues where it
stopped; finished structures are flushed into a shard (written atomically) even on Ctrl-C.
A structure that fails (SCF not converged, eigenvalue check failed, unknown element) is listed
under ``failed`` in the manifest with the reason and is never written.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from contextlib import contextmanager
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass

from tqdm.auto import tqdm

from ..conventions import BasisSet
from ..io.shards import DatasetWriter
from .prototypes import expand_entry


@dataclass
class GenerationSummary:
    written: int
    skipped: int
    failed: dict
    seconds: float
    output: str


def structure_specs(config) -> list:
    specs = []
    for entry in config["library"]:
        specs.extend(expand_entry(dict(entry), seed=int(config.get("seed", 0))))
    labels = [s.label for s in specs]
    duplicates = {label for label in labels if labels.count(label) > 1}
    if duplicates:
        raise ValueError(f"library produces duplicate labels {sorted(duplicates)}; give each entry distinct elements/prototype")
    return specs


def engine_settings_for(spec, engine_settings: dict) -> dict:
    """The config's engine section with the spec's per-entry overrides on top (``soc`` merged too)."""
    return merge_engine_settings(engine_settings, spec.engine_overrides)


def merge_engine_settings(engine_settings: dict, overrides: dict) -> dict:
    """``engine_settings`` with ``overrides`` on top, the ``soc`` section merged key by key."""
    merged = {**engine_settings, **overrides}
    if "soc" in overrides:
        merged["soc"] = {**engine_settings.get("soc", {}), **overrides["soc"]}
    return merged


def _init_worker(threads: int):
    os.environ["OMP_NUM_THREADS"] = str(threads)
    from pyscf import lib

    lib.num_threads(threads)


def _compute_with_pyscf(spec, engine_settings):
    from .pyscf_engine import PySCFSettings, compute_structure

    record, element_basis = compute_structure(spec, PySCFSettings.from_dict(engine_settings))
    return record, {symbol: basis.to_dict() for symbol, basis in element_basis.items()}


@contextmanager
def _terminate_as_interrupt():
    """SIGTERM (a scheduler's kill, ``kill PID``) behaves like Ctrl-C: finished work is flushed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_pool(pending, compute, engine_settings, workers, threads, accept, bar):
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(threads,))
    futures = {pool.submit(compute, spec, engine_settings_for(spec, engine_settings)): spec for spec in pending}
    try:
        while futures:
            finished, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in finished:
                spec = futures.pop(future)
                error = future.exception()
                accept(spec, error if error is not None else future.result())
                bar.update()
    except BaseException:
        # in-flight structures are abandoned (they will be recomputed on resume); finished ones are kept
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def generate_dataset(config, compute=_compute_with_pyscf, progress: bool = True) -> GenerationSummary:
    """Run the generation described by ``config`` (a mapping, see nextham/configs/data/generate.yaml).

    ``compute(spec, engine_settings) -> (record, {symbol: basis dict})`` does one structure."""
    start = time.perf_counter()
    engine_settings = dict(config.get("engine", {}))
    writer = DatasetWriter(
        config["output"],
        provenance={"generator": "nextham data generate", "engine": "pyscf", "settings": engine_settings,
                    "library": [dict(e) for e in config["library"]], "seed": int(config.get("seed", 0))},
        split_fractions=dict(config.get("split_fractions") or {"train": 0.8, "val": 0.1, "test": 0.1}),
        dtype=engine_settings.get("storage_dtype", "float64"),
        compression=config.get("compression"),
    )
    specs = structure_specs(config)
    writer.forget_failures_except(s.label for s in specs)
    done = writer.completed_labels
    pending = [s for s in specs if s.label not in done]
    per_shard = int(config.get("structures_per_shard", 16))
    workers = int(config.get("workers", 1))
    threads = int(config.get("threads_per_worker", 1))
    buffer, failed = [], {}

    def flush(force=False):
        while len(buffer) >= per_shard or (force and buffer):
            chunk, buffer[:] = buffer[:per_shard], buffer[per_shard:]
            writer.append_shard(chunk)

    def accept(spec, outcome):
        if isinstance(outcome, BaseException):
            failed[spec.label] = f"{type(outcome).__name__}: {outcome}"
            writer.record_failure(spec.label, failed[spec.label])
            return
        record, basis = outcome
        try:
            writer.add_basis(BasisSet.from_dict(basis))
            record.validate(writer.basis)
        except Exception as error:  # a bad record is reported, never written
            failed[spec.label] = f"{type(error).__name__}: {error}"
            writer.record_failure(spec.label, failed[spec.label])
            return
        buffer.append(record)
        flush()

    bar = tqdm(total=len(specs), initial=len(specs) - len(pending), desc="generate", unit="structure",
               disable=not progress)
    with _terminate_as_interrupt():
        try:
            if workers <= 1:
                for spec in pending:
                    bar.set_postfix_str(spec.label)
                    try:
                        outcome = compute(spec, engine_settings_for(spec, engine_settings))
                    except Exception as error:
                        outcome = error
                    accept(spec, outcome)
                    bar.update()
            else:
                _run_pool(pending, compute, engine_settings, workers, threads, accept, bar)
        finally:
            flush(force=True)  # whatever finished is kept, even on interruption
            bar.close()
    return GenerationSummary(
        written=len(pending) - len(failed), skipped=len(specs) - len(pending), failed=failed,
        seconds=time.perf_counter() - start, output=str(writer.root),
    )
