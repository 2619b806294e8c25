"""What the benchmark scripts share: thread counts set in one place, a measurement in a fresh process
(so one configuration's memory and threads do not leak into the next), peak resident memory, and the
crystals and units the tables use. The scripts run as ``python benchmarks/<script>.py``, which puts
this folder on the import path."""
from __future__ import annotations

import os
import resource
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

# the scaling benchmarks' crystals: (formula, ASE prototype, a in Å)
SI_SIC = {"Si": ("Si", "diamond", 5.431), "SiC": ("SiC", "zincblende", 4.359)}
EV_TO_MEV = 1000.0  # shards hold eV (manifest units)


def set_threads(count: int):
    """OpenMP, torch and PySCF threads of this process."""
    os.environ["OMP_NUM_THREADS"] = str(count)
    import torch
    from pyscf import lib

    torch.set_num_threads(count)
    lib.num_threads(count)


def in_fresh_process(threads: int, function, *arguments):
    """``function(*arguments)`` in a new spawned process with ``threads`` threads; its result."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=set_threads, initargs=(threads,)) as pool:
        return pool.submit(function, *arguments).result()


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class MemorySampler:
    """Resident memory of this process sampled every ``interval`` s on a thread, so that each stage of a
    run gets its own peak (ru_maxrss only gives the peak so far). ``peak_mb(start, end)``: the highest
    sample between two time.perf_counter() readings."""

    def __init__(self, interval: float = 0.05):
        import threading
        import time

        self._samples, self._stop, self._interval, self._clock = [], threading.Event(), interval, time.perf_counter
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _resident_mb(self) -> float:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self._page / 1024 ** 2

    def _run(self):
        while not self._stop.is_set():
            self._samples.append((self._clock(), self._resident_mb()))
            self._stop.wait(self._interval)

    def peak_mb(self, start: float, end: float) -> float:
        inside = [mb for when, mb in list(self._samples) if start <= when <= end]
        return max(inside) if inside else self._resident_mb()

    def stop(self):
        self._stop.set()
        self._thread.join()


def machine() -> str:
    """The CPU model, its logical CPUs and the memory of this machine, for a table's header."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), model)
    except OSError:
        pass
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024 ** 3
    return f"{model}, {os.cpu_count()} CPUs, {memory_gb:.0f} GB"
