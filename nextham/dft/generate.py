"""``nextham data generate``: a prototype library or structure files → DFT tasks → validated shards, resumable.

Every structure is a task keyed by a hash of its geometry and engine settings (``tasks.py``), run
through submitit: local processes, or a Slurm job array where ``srun`` exists. Structures already in
the output's manifest are skipped and results that finished after the driver stopped are collected,
so an interrupted run continues where it stopped; finished structures are flushed into a shard
(written atomically) even on Ctrl-C. A structure that fails (SCF not converged, eigenvalue check
failed, unknown element, a worker killed) is listed under ``failed`` in the manifest with the reason,
is never written. The next run tries it again when the cause may pass (a worker killed, an error of the
machine); an SCF that did not converge or a band check that failed is deterministic for its content key,
so it is kept as failed unless ``retry_failed: true``.

``storage_rounding`` (exponents e) stores H(T), H(0) as multiples of 2^e eV and S of 2^e: float32 + gzip
then keeps only the significant bits, about 5x smaller for the long-range pairs of metals. The band
check is repeated on the rounded blocks (finer steps where it no longer passes), so what is written is
what was checked.
"""
from __future__ import annotations

import shutil
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

from tqdm.auto import tqdm

from ..conventions import BasisSet, units
from ..errors import ValidationFailedError
from ..io.shards import DatasetWriter
from ..record import check_eigenvalues
from .engine_rules import basis_settings, resolve_engine_settings
from .prototypes import expand_entry
from .tasks import TaskFailed, TaskFolder, content_key, run_tasks


# failures that a second run of the same content key would repeat
DETERMINISTIC_FAILURES = (ValidationFailedError.__name__,)


def round_for_storage(record, rounding: dict | None, tolerance_hartree: float, refinements=(0, 2, 4, 6)):
    """``record`` rounded as ``rounding`` ({hamiltonian_exponent, overlap_exponent}, or None: as it is).

    The band check is repeated on the rounded blocks; where they no longer pass (a record whose pair
    cutoff was chosen at the edge of the tolerance), both exponents are made finer by the steps in
    ``refinements``, and the record is stored unrounded when none passes: a storage choice never costs
    a structure. ``metadata["storage_rounding"]`` says what was used."""
    if not rounding or check_eigenvalues(record) is None:
        return record
    tolerance_ev = tolerance_hartree * units.HARTREE_TO_EV
    earlier = record.metadata.get("storage_rounding") or {}  # a copy from a dataset stored rounded already
    for finer in refinements:
        used = {name: int(rounding[name]) - finer for name in ("hamiltonian_exponent", "overlap_exponent")}
        rounded = record.rounded(used["hamiltonian_exponent"], used["overlap_exponent"])
        error = check_eigenvalues(rounded)
        if error <= tolerance_ev:
            used = {name: max(step, int(earlier.get(name, step))) for name, step in used.items()}
            rounded.metadata.update(storage_rounding=used, eigenvalue_check_ev=float(error))
            return rounded
    record = record.replace()
    record.metadata["storage_rounding"] = earlier or None
    return record


@dataclass
class GenerationSummary:
    written: int
    skipped: int
    failed: dict
    seconds: float
    output: str
    kept_failed: int = 0  # deterministic failures of earlier runs, not computed again


def structure_specs(config) -> list:
    """The structures of a recipe: its ``library`` entries expanded (prototypes, and ``random:`` entries
    through :mod:`.random_crystals`), then its ``structures`` files (paths or folders of anything ASE
    reads, labelled by file name; ``structures_group`` sets their evaluation group). ``include_library:
    [RECIPE, ...]`` puts those recipes' library entries first (with ``reuse:`` their datasets are copied,
    not recomputed, where the engine sections agree). With ``task_order:
    breadth`` the library's structures come variant by variant across the entries (every entry's first
    variant, then every second one, ...), so that a run stopped early holds every entry."""
    specs, seed = [], int(config.get("seed", 0))
    entries = []
    for recipe in config.get("include_library") or []:
        from ..configs import load_config

        entries.extend(load_config(recipe).get("library") or [])
    for entry in entries + list(config.get("library") or []):
        entry = dict(entry)
        if "random" in entry:
            from .random_crystals import expand_random_entry

            specs.extend(expand_random_entry(entry, seed=seed))
        else:
            specs.extend(expand_entry(entry, seed=seed))
    order = config.get("task_order", "recipe")
    if order not in ("recipe", "breadth"):
        raise ValueError(f"task_order must be recipe or breadth, not {order!r}")
    if order == "breadth":
        specs = sorted(specs, key=lambda spec: spec.metadata.get("variant", 0))  # stable: entries keep their order
    if config.get("structures"):
        from ..structures import read_structures, structure_spec

        group = str(config.get("structures_group", "in_distribution"))
        for label, atoms, path in read_structures(list(config["structures"])):
            spec = structure_spec(atoms, label, path, soc=bool(config.get("structures_soc", False)))
            spec.metadata["group"] = group
            specs.append(spec)
    if not specs:
        raise ValueError("the recipe has no structures: give a `library` of prototypes or `structures` files")
    labels = [s.label for s in specs]
    duplicates = {label for label in labels if labels.count(label) > 1}
    if duplicates:
        raise ValueError(f"library produces duplicate labels {sorted(duplicates)}; give each entry distinct elements/prototype")
    return specs


def reusable_outcomes(paths, keys) -> dict:
    """{content key: a loader of (record, basis dict)} of the structures ``keys`` asks for that the datasets at
    ``paths`` already hold under the same content key (same geometry and engine settings): a recipe that
    takes in an earlier dataset (``reuse: [datasets/bench]``) copies them instead of computing them again.
    A structure the dataset lists as failed under the same key comes as that failure (TaskFailed): it
    would fail again; drop ``reuse`` to try it anyway. Records are read when their loader is called, one
    at a time, not all before the first is written."""
    from ..conventions import element_symbol
    from ..io.shards import ShardedDataset

    wanted, found = set(keys), {}
    for path in paths or []:
        dataset = ShardedDataset(path)
        basis = dataset.basis.to_dict()

        def load(dataset=dataset, basis=basis, label=None):
            record = dataset.read(label)
            symbols = {element_symbol(z) for z in record.atomic_numbers.tolist()}
            return record, {symbol: basis[symbol] for symbol in symbols}

        for label, key in dataset.manifest.get("keys", {}).items():
            if key in wanted and key not in found:
                found[key] = partial(load, label=label)
        for label, key in dataset.manifest.get("failed_keys", {}).items():
            if key in wanted and key not in found:
                found[key] = TaskFailed(f"{dataset.manifest['failed'].get(label, 'failed')} (as in {path})")
    return found


def engine_settings_for(spec, engine_settings: dict) -> dict:
    """The config's engine section resolved for the spec's elements (their rules, :mod:`.engine_rules`),
    with the spec's per-entry overrides on top (``soc`` merged too)."""
    resolved = resolve_engine_settings(engine_settings, spec.symbols, structure=spec.label, soc=bool(spec.soc))
    return merge_engine_settings(resolved, spec.engine_overrides)


def merge_engine_settings(engine_settings: dict, overrides: dict) -> dict:
    """``engine_settings`` with ``overrides`` on top, the ``soc`` section merged key by key."""
    merged = {**engine_settings, **overrides}
    if "soc" in overrides:
        merged["soc"] = {**engine_settings.get("soc", {}), **overrides["soc"]}
    return merged


def orbital_layout(engine_settings: dict, max_l: int = 2) -> dict:
    """The manifest's record of the basis family's orbital layout (the slots every model trained on the
    dataset uses, so that it predicts elements of the family it never saw)."""
    from .cell import family_layout_slots
    from .engine_settings import PySCFSettings

    settings = PySCFSettings.from_dict(basis_settings(engine_settings))
    slots = family_layout_slots(settings, max_l)
    return {"family": f"{settings.basis} / {settings.pseudo}", "spin_orbit_basis": dict(settings.soc.basis),
            "max_l": max_l, "slots": [list(slot) for slot in slots],
            "describe": " ".join("spdfghi"[l] for l, _ in slots)}


def _compute_with_pyscf(spec, engine_settings):
    from .engine_settings import PySCFSettings
    from .pyscf_engine import compute_structure

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


def generate_dataset(config, compute=_compute_with_pyscf, progress: bool = True) -> GenerationSummary:
    """Run the generation described by ``config`` (a mapping, see nextham/configs/data/generate.yaml).

    ``compute(spec, engine_settings) -> (record, {symbol: basis dict})`` does one structure; it must be
    picklable unless the tasks run inline (``executor.cluster: inline``, or one worker and no cluster)."""
    start = time.perf_counter()
    engine_settings = dict(config.get("engine", {}))
    writer = DatasetWriter(
        config["output"],
        provenance={"generator": "nextham data generate", "engine": "pyscf", "settings": engine_settings,
                    "library": [dict(e) for e in config.get("library") or []],
                    "structures": [str(p) for p in config.get("structures") or []], "seed": int(config.get("seed", 0)),
                    "storage_rounding": config.get("storage_rounding")},
        split_fractions=dict(config.get("split_fractions") or {"train": 0.8, "val": 0.1, "test": 0.1}),
        dtype=engine_settings.get("storage_dtype", "float64"),
        compression=config.get("compression"),
    )
    writer.manifest["orbital_layout"] = orbital_layout(engine_settings, int(config.get("layout_max_l", 2)))
    specs = structure_specs(config)
    settings_of = {s.label: engine_settings_for(s, engine_settings) for s in specs}
    keys = {s.label: content_key(s, settings_of[s.label]) for s in specs}
    writer.forget_failures_except(keys)
    writer.check_keys(keys)
    done = writer.completed_labels
    kept_failed = set() if config.get("retry_failed", False) else \
        writer.deterministic_failures(DETERMINISTIC_FAILURES, keys)
    done |= kept_failed
    pending = [s for s in specs if s.label not in done]
    rounding = config.get("storage_rounding")
    per_shard = int(config.get("structures_per_shard", 16))
    workers = int(config.get("workers", 1))
    threads = int(config.get("threads_per_worker", 1))
    executor = dict(config.get("executor") or {})
    cluster = executor.pop("cluster", None)
    inline = cluster == "inline" or (cluster is None and workers <= 1)
    work = writer.root / ".tasks"
    tasks = TaskFolder(work / "results")
    buffer, failed = [], {}

    def flush(force=False):
        while len(buffer) >= per_shard or (force and buffer):
            chunk, buffer[:] = buffer[:per_shard], buffer[per_shard:]
            writer.append_shard(chunk)
            for record in chunk:  # in a shard now: the task's own copy can go
                tasks.forget(record.metadata.get("content_key", ""))

    def accept(spec, outcome):
        if isinstance(outcome, BaseException):
            failed[spec.label] = str(outcome) if isinstance(outcome, TaskFailed) else f"{type(outcome).__name__}: {outcome}"
            writer.record_failure(spec.label, failed[spec.label], keys[spec.label])
            tasks.forget(keys[spec.label])  # a failure is tried again by the next run
            return
        record, basis = outcome
        record.metadata["content_key"] = keys[spec.label]
        try:
            tolerance = settings_of[spec.label].get("eigenvalue_tolerance_hartree", 1e-5)
            record = round_for_storage(record, rounding, tolerance)
            writer.add_basis(BasisSet.from_dict(basis))
            record.validate(writer.basis)
        except Exception as error:  # a bad record is reported, never written
            failed[spec.label] = f"{type(error).__name__}: {error}"
            writer.record_failure(spec.label, failed[spec.label], keys[spec.label])
            return
        buffer.append(record)
        flush()

    bar = tqdm(total=len(specs), initial=len(specs) - len(pending), desc="generate", unit="structure",
               disable=not progress)

    def finished(spec, key, outcome):
        # structures of identical content (e.g. the ideal crystal of two entries) share one task
        for twin in twins[key]:
            if isinstance(outcome, BaseException):
                accept(twin, outcome)
            else:
                record, basis = outcome
                record = record.replace(label=twin.label)
                record.metadata.update(twin.metadata)
                accept(twin, (record, basis))
            bar.update()

    with _terminate_as_interrupt():
        try:
            to_run, twins = [], {}
            for spec in pending:
                twins.setdefault(keys[spec.label], []).append(spec)
            reused = reusable_outcomes(config.get("reuse"), twins)
            for spec in [group[0] for group in twins.values()]:
                if keys[spec.label] in reused:  # copied from a reused dataset, its failures included
                    outcome = reused[keys[spec.label]]
                    finished(spec, keys[spec.label], outcome if isinstance(outcome, BaseException) else outcome())
                    continue
                outcome = tasks.outcome(keys[spec.label])  # results finished after an earlier driver stopped
                if outcome is None or isinstance(outcome, BaseException):
                    tasks.forget(keys[spec.label])
                    to_run.append(spec)
                else:
                    finished(spec, keys[spec.label], outcome)
            if inline:
                for spec in to_run:
                    bar.set_postfix_str(spec.label)
                    try:
                        outcome = compute(spec, settings_of[spec.label])
                    except Exception as error:
                        outcome = error
                    finished(spec, keys[spec.label], outcome)
            elif to_run:
                run_tasks([(keys[s.label], s, settings_of[s.label]) for s in to_run], compute, work, workers,
                          threads, cluster=cluster, options=executor, on_outcome=finished)
        finally:
            flush(force=True)  # whatever finished is kept, even on interruption
            bar.close()
    if not failed and len(writer.completed_labels) >= len(specs):
        shutil.rmtree(work, ignore_errors=True)  # submitit logs and task files of a completed run
    return GenerationSummary(
        written=len(pending) - len(failed), skipped=len(specs) - len(pending) - len(kept_failed), failed=failed,
        seconds=time.perf_counter() - start, output=str(writer.root), kept_failed=len(kept_failed),
    )
