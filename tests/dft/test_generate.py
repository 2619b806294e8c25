"""Generation is resumable and loses nothing when interrupted; failed structures are never written."""
import os
import sys

import numpy as np
import pytest

from nextham.errors import DataError, ValidationFailedError
from nextham.dft.generate import generate_dataset, structure_specs
from nextham.io.shards import ShardedDataset, read_manifest
from nextham.record import check_eigenvalues


def _config(tmp_path, per_shard=2):
    return {
        "output": str(tmp_path / "out"), "seed": 0, "workers": 1, "structures_per_shard": per_shard,
        "engine": {"storage_dtype": "float32"},
        "library": [{"prototype": "diamond", "elements": ["Si", "Si"], "parameters": {"a": 5.431}, "variants": 4,
                     "strain": 0.03, "rattle": 0.04},
                    {"prototype": "diamond", "elements": ["Ge", "Ge"], "parameters": {"a": 5.658}, "variants": 3,
                     "strain": 0.03, "rattle": 0.04}],
    }


class EmbeddedEngine:
    """Stands in for PySCF by handing back the real records shipped with the package (same labels,
    same recipe), so these tests exercise the bookkeeping without minutes of DFT."""

    def __init__(self, embedded, interrupt_at=None, fail=(), crash=()):
        self.embedded, self.interrupt_at, self.fail, self.calls = embedded, interrupt_at, set(fail), []
        self.crash = set(crash)  # these raise an error of the machine, not of the physics

    def __call__(self, spec, settings):
        self.calls.append(spec.label)
        if len(self.calls) == self.interrupt_at:
            raise KeyboardInterrupt
        if spec.label in self.fail:
            raise ValidationFailedError("eigenvalues differ by 3e-4 Ha", structure=spec.label)
        if spec.label in self.crash:
            raise MemoryError("out of memory")
        record = self.embedded.read(spec.label)
        return record, self.embedded.basis.to_dict()


def test_specs_are_deterministic(tmp_path):
    first = structure_specs(_config(tmp_path))
    second = structure_specs(_config(tmp_path))
    assert [s.label for s in first] == [s.label for s in second]
    assert all((a.positions == b.positions).all() for a, b in zip(first, second))
    assert len(first) == 7 and first[0].metadata["variant"] == 0 and first[1].metadata["strain_amplitude"] == 0.03


def test_per_entry_engine_overrides(tmp_path):
    from nextham.dft.generate import engine_settings_for

    config = _config(tmp_path)
    config["library"][1]["engine"] = {"pair_cutoff_angstrom": 12.0, "soc": {"min_exponent": 0.1}}
    config["engine"]["soc"] = {"min_exponent": 0.05, "max_radial_per_l": {0: 1}}
    specs = structure_specs(config)
    silicon = engine_settings_for(specs[0], config["engine"])
    germanium = engine_settings_for(specs[-1], config["engine"])
    assert "pair_cutoff_angstrom" not in silicon and germanium["pair_cutoff_angstrom"] == 12.0
    assert germanium["soc"] == {"min_exponent": 0.1, "max_radial_per_l": {0: 1}}
    assert germanium["storage_dtype"] == "float32"


def test_an_element_without_an_engine_rule_stops_the_recipe_before_any_structure_runs(tmp_path, embedded):
    from nextham.dft.engine_rules import packaged_rules
    from nextham.errors import UnknownElementError

    config = _config(tmp_path)
    config["engine"]["element_rules"] = {k: v for k, v in packaged_rules().items() if k != "Ge"}
    engine = EmbeddedEngine(embedded)
    with pytest.raises(UnknownElementError, match=r"structure 'Ge-diamond-000'.*element Ge has no engine rule"):
        generate_dataset(config, compute=engine, progress=False)
    assert engine.calls == [] and not (tmp_path / "out" / "manifest.json").exists()
    # with its rule the recipe runs, and the manifest (so every checkpoint's card) carries the table
    config["engine"]["element_rules"] = packaged_rules()
    generate_dataset(config, compute=engine, progress=False)
    assert read_manifest(tmp_path / "out")["provenance"]["settings"]["element_rules"] == packaged_rules()


def test_interruption_keeps_finished_structures_and_resume_completes(tmp_path, embedded):
    config = _config(tmp_path, per_shard=2)
    engine = EmbeddedEngine(embedded, interrupt_at=4)
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(config, compute=engine, progress=False)
    manifest = read_manifest(tmp_path / "out")
    # 3 structures had finished: one full shard of 2 plus the flushed remainder
    assert manifest["counts"]["structures"] == 3
    assert [p.name for p in (tmp_path / "out").iterdir() if ".tmp-" in p.name] == []
    done = set(ShardedDataset(tmp_path / "out").labels)

    resumed = EmbeddedEngine(embedded)
    summary = generate_dataset(config, compute=resumed, progress=False)
    assert summary.skipped == 3 and summary.written == 4
    assert not done & set(resumed.calls)  # nothing finished is recomputed
    dataset = ShardedDataset(tmp_path / "out")
    assert len(dataset) == 7
    for label in dataset.labels:
        record = dataset.read(label)
        assert (record.hamiltonian == embedded.read(label).hamiltonian).all()


def test_failed_structures_are_reported_not_written(tmp_path, embedded):
    config = _config(tmp_path, per_shard=10)
    bad, crashed = "Ge-diamond-001", "Si-diamond-002"
    summary = generate_dataset(config, compute=EmbeddedEngine(embedded, fail={bad}, crash={crashed}), progress=False)
    assert sorted(summary.failed) == sorted([bad, crashed]) and summary.written == 5
    manifest = read_manifest(tmp_path / "out")
    assert "eigenvalues differ" in manifest["failed"][bad] and "out of memory" in manifest["failed"][crashed]
    assert not {bad, crashed} & set(ShardedDataset(tmp_path / "out").labels)
    # a later run computes again what the machine broke, not what the physics refused (same content key)
    engine = EmbeddedEngine(embedded)
    summary = generate_dataset(config, compute=engine, progress=False)
    assert engine.calls == [crashed] and summary.kept_failed == 1 and summary.skipped == 5
    assert list(read_manifest(tmp_path / "out")["failed"]) == [bad]
    # unless asked to; success clears the failure
    engine = EmbeddedEngine(embedded)
    generate_dataset({**config, "retry_failed": True}, compute=engine, progress=False)
    assert engine.calls == [bad] and read_manifest(tmp_path / "out")["failed"] == {}
    assert bad in ShardedDataset(tmp_path / "out").labels


def test_storage_rounding_keeps_the_significant_bits_and_the_band_check(tmp_path, embedded):
    """Blocks are stored as multiples of the step the metadata names, within half a step of the engine's,
    and pass the band check; where the recipe's step would move the bands, a finer one (or none) is
    used, so no structure is lost to storage."""
    tolerance_ev = 1e-5 * 27.211386245988
    for name, asked in (("fine", (-20, -24)), ("coarse", (-2, -4))):
        rounding = {"hamiltonian_exponent": asked[0], "overlap_exponent": asked[1]}
        config = {**_config(tmp_path, per_shard=10), "compression": "gzip", "storage_rounding": rounding,
                  "output": str(tmp_path / name)}
        summary = generate_dataset(config, compute=EmbeddedEngine(embedded), progress=False)
        assert summary.written == 7 and not summary.failed
        used = []
        for stored in ShardedDataset(tmp_path / name):
            used.append(stored.metadata["storage_rounding"])
            assert check_eigenvalues(stored) <= tolerance_ev
            assert stored.metadata["eigenvalue_check_ev"] == pytest.approx(check_eigenvalues(stored), abs=1e-9)
            original = embedded.read(stored.label)
            if used[-1] is None:
                np.testing.assert_array_equal(stored.hamiltonian, original.hamiltonian)
                continue
            assert used[-1]["hamiltonian_exponent"] <= asked[0]
            for kind, key in (("hamiltonian", "hamiltonian_exponent"), ("hamiltonian_0", "hamiltonian_exponent"),
                              ("overlap", "overlap_exponent")):
                values, step = getattr(stored, kind).astype(np.float64), 2.0 ** used[-1][key]
                np.testing.assert_array_equal(values, np.round(values / step) * step)
                assert np.abs(values - getattr(original, kind)).max() <= step / 2 + 1e-7
        if name == "fine":
            assert rounding in used  # the recipe's step where the bands allow it
        else:
            assert rounding not in used


def test_a_reused_dataset_is_copied_by_content_key_failures_included(tmp_path, embedded):
    """``reuse:`` takes structures of the same geometry and engine settings from an earlier dataset
    (under this recipe's labels and groups) and its failures as failures; the rest is computed."""
    first = _config(tmp_path, per_shard=10)
    generate_dataset(first, compute=EmbeddedEngine(embedded, fail={"Ge-diamond-001"}), progress=False)
    config = _config(tmp_path, per_shard=10)
    config["output"] = str(tmp_path / "second")
    config["reuse"] = [first["output"]]
    config["library"][1]["group"] = "held_out_element"  # this recipe's metadata wins over the copy's
    config["library"].append({"prototype": "diamond", "elements": ["C", "C"], "parameters": {"a": 3.567}, "variants": 2,
                              "strain": 0.03, "rattle": 0.03})
    engine = EmbeddedEngine(embedded)
    summary = generate_dataset(config, compute=engine, progress=False)
    assert engine.calls == ["C-diamond-000", "C-diamond-001"]  # only what the first dataset lacks
    assert list(summary.failed) == ["Ge-diamond-001"] and "as in" in summary.failed["Ge-diamond-001"]
    second, original = ShardedDataset(tmp_path / "second"), ShardedDataset(tmp_path / "out")
    assert len(second) == 8 and second.group_of("Ge-diamond-000") == "held_out_element"
    for label in original.labels:
        np.testing.assert_array_equal(second.read(label).hamiltonian, original.read(label).hamiltonian)
    assert read_manifest(tmp_path / "second")["keys"] == {
        **read_manifest(tmp_path / "out")["keys"],
        **{label: key for label, key in read_manifest(tmp_path / "second")["keys"].items() if label.startswith("C-")}}
    # a changed engine setting changes the content keys: nothing is reused then
    config["output"], config["engine"]["conv_tol"] = str(tmp_path / "third"), 1e-10
    engine = EmbeddedEngine(embedded)
    generate_dataset(config, compute=engine, progress=False)
    assert len(engine.calls) == 9


def test_breadth_order_runs_every_entry_before_second_variants(tmp_path):
    config = {**_config(tmp_path), "task_order": "breadth"}
    labels = [s.label for s in structure_specs(config)]
    assert labels[:4] == ["Si-diamond-000", "Ge-diamond-000", "Si-diamond-001", "Ge-diamond-001"]
    assert sorted(labels) == sorted(s.label for s in structure_specs(_config(tmp_path)))
    with pytest.raises(ValueError, match="task_order must be recipe or breadth"):
        structure_specs({**config, "task_order": "depth"})


def test_include_library_puts_another_recipes_entries_first(tmp_path):
    recipe = tmp_path / "other.yaml"
    recipe.write_text("library:\n  - {prototype: diamond, elements: [C, C], parameters: {a: 3.567}, variants: 2}\n")
    labels = [s.label for s in structure_specs({**_config(tmp_path), "include_library": [str(recipe)]})]
    assert labels[:2] == ["C-diamond-000", "C-diamond-001"] and len(labels) == 9


@pytest.mark.slow  # expands 1,502 structures, 200 of them PyXtal's (about a minute)
def test_the_broad_benchmark_recipe_holds_what_it_promises():
    """datasets/bench2's recipe: at least 1,500 structures over at least 45 elements, 1-32 atoms, its
    four evaluation groups, held-out elements in no training structure, every structure with a rule."""
    from nextham.configs import load_config
    from nextham.dft.generate import engine_settings_for

    config = load_config("data/bench2.yaml")
    specs = structure_specs(config)
    groups = {}
    for spec in specs:
        groups.setdefault(spec.metadata["group"], []).append(spec)
        engine_settings_for(spec, config["engine"])  # raises for an element without a rule
    assert len(specs) >= 1500 and len({x for s in specs for x in s.symbols}) >= 45
    assert {len(s.symbols) for s in specs} <= set(range(1, 33))
    assert set(groups) == {"in_distribution", "new_combination", "held_out_element", "new_structure_type"}
    trained = {x for s in groups["in_distribution"] for x in s.symbols}
    held_out = {x for s in groups["held_out_element"] for x in s.symbols} - trained
    assert {"Rh", "Ta", "Pb", "Br"} <= held_out
    assert {s.metadata["prototype"] for s in groups["new_structure_type"]}.isdisjoint(
        {s.metadata["prototype"] for s in groups["in_distribution"]})
    kinds = {s.metadata["prototype"] for s in specs}
    assert {"fcc", "bcc", "hcp", "l12", "cesium_chloride", "a7", "rutile", "random", "graphite"} <= kinds
    assert any("slab" in s.metadata for s in specs) and any("temperature_k" in s.metadata for s in specs)


# ---------------------------------------------------------------------------- submitit tasks
def embedded_compute(spec, settings):
    """A worker's engine for the submitit tests: the embedded set's record of ``spec.label``. It logs
    every call to the file ``$NEXTHAM_TEST_CALLS`` and, the first time it meets a label listed in
    ``$NEXTHAM_TEST_KILL``, kills its own process as an OOM killer or a scheduler would."""
    import signal
    from pathlib import Path

    from nextham.assets import embedded_dataset_path

    calls = os.environ["NEXTHAM_TEST_CALLS"]
    with open(calls, "a") as log:
        log.write(spec.label + "\n")
    marker = Path(calls + f".killed-{spec.label}")
    if spec.label in os.environ.get("NEXTHAM_TEST_KILL", "").split() and not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    embedded = ShardedDataset(embedded_dataset_path())
    return embedded.read(spec.label), embedded.basis.to_dict()


@pytest.fixture
def call_log(tmp_path, monkeypatch):
    """Workers inherit the environment: where they log their calls."""
    monkeypatch.setenv("NEXTHAM_TEST_CALLS", str(tmp_path / "calls.log"))
    return tmp_path / "calls.log"


def _task_config(tmp_path):
    config = _config(tmp_path, per_shard=2)
    config.update({"workers": 2, "executor": {"cluster": "local", "timeout_min": 10}})
    return config


def _calls(tmp_path):
    path = tmp_path / "calls.log"
    return path.read_text().split() if path.exists() else []


@pytest.fixture
def picklable_test_module():
    """Local submitit workers unpickle the engine: ship this module by value, not by import path."""
    import cloudpickle

    module = sys.modules[__name__]
    cloudpickle.register_pickle_by_value(module)
    yield
    cloudpickle.unregister_pickle_by_value(module)


def test_local_tasks_resume_after_a_killed_worker(tmp_path, embedded, picklable_test_module, call_log, monkeypatch):
    killed = "Si-diamond-002"
    monkeypatch.setenv("NEXTHAM_TEST_KILL", killed)
    config = _task_config(tmp_path)
    summary = generate_dataset(config, compute=embedded_compute, progress=False)
    assert list(summary.failed) == [killed] and "worker died" in summary.failed[killed], summary.failed
    assert summary.written == 6 and len(ShardedDataset(tmp_path / "out")) == 6
    first_calls = _calls(tmp_path)
    assert sorted(first_calls) == sorted(s.label for s in structure_specs(config))

    summary = generate_dataset(config, compute=embedded_compute, progress=False)
    assert summary.failed == {} and summary.skipped == 6 and summary.written == 1
    assert _calls(tmp_path)[len(first_calls):] == [killed]  # only the killed structure ran again
    dataset = ShardedDataset(tmp_path / "out")
    assert sorted(dataset.labels) == sorted(s.label for s in structure_specs(config))
    record = dataset.read(killed)
    assert (record.hamiltonian == embedded.read(killed).hamiltonian).all()
    manifest = read_manifest(tmp_path / "out")
    assert manifest["keys"][killed] == record.metadata["content_key"] and manifest["failed"] == {}
    assert not (tmp_path / "out" / ".tasks").exists()  # a completed run leaves no task files


def test_results_finished_after_the_driver_stopped_are_collected_not_recomputed(tmp_path, embedded, call_log):
    from nextham.dft.generate import engine_settings_for
    from nextham.dft.tasks import content_key, run_task

    config = _config(tmp_path)
    specs = structure_specs(config)
    # a worker (or a Slurm job) finished this structure after its driver was killed
    orphan = specs[2]
    settings = engine_settings_for(orphan, config["engine"])
    run_task(embedded_compute, orphan, settings, str(tmp_path / "out" / ".tasks" / "results"),
             content_key(orphan, settings), threads=1)
    assert _calls(tmp_path) == [orphan.label]
    summary = generate_dataset(config, compute=embedded_compute, progress=False)
    assert summary.written == 7 and summary.failed == {}
    assert _calls(tmp_path).count(orphan.label) == 1  # collected, not computed again
    assert (ShardedDataset(tmp_path / "out").read(orphan.label).hamiltonian == embedded.read(orphan.label).hamiltonian).all()


def test_content_key_follows_geometry_and_settings_not_label(tmp_path):
    from dataclasses import replace

    from nextham.dft.tasks import content_key

    spec = structure_specs(_config(tmp_path))[1]
    settings = {"ke_cutoff_hartree": 80.0, "device": "cpu"}
    key = content_key(spec, settings)
    assert content_key(replace(spec, label="renamed"), settings) == key
    assert content_key(spec, {**settings, "device": "cuda"}) == key  # where it runs is not what it computes
    assert content_key(spec, {**settings, "ke_cutoff_hartree": 100.0}) != key
    moved = replace(spec, positions=spec.positions + np.array([1e-4, 0.0, 0.0]))
    assert content_key(moved, settings) != key


def test_a_changed_recipe_does_not_mix_into_written_structures(tmp_path, embedded):
    config = _config(tmp_path)
    generate_dataset(config, compute=EmbeddedEngine(embedded), progress=False)
    config["library"][0]["rattle"] = 0.05  # same labels, other geometry
    with pytest.raises(DataError, match="other geometry or engine settings"):
        generate_dataset(config, compute=EmbeddedEngine(embedded), progress=False)


def test_a_folder_of_structure_files_is_generated_like_a_library(tmp_path, embedded):
    from ase import Atoms
    from ase.io import write

    folder = tmp_path / "mine"
    folder.mkdir()
    labels = ["Si-diamond-001", "AlAs-zincblende-002"]
    for label in labels:
        record = embedded.read(label)
        atoms = Atoms(numbers=record.atomic_numbers, positions=record.positions, cell=record.lattice, pbc=True)
        write(folder / f"{label}.vasp", atoms, format="vasp", direct=True)
    config = {"output": str(tmp_path / "out"), "structures": [str(folder)], "structures_group": "new_combination",
              "engine": {"storage_dtype": "float32"}, "structures_per_shard": 4}
    engine = EmbeddedEngine(embedded)
    summary = generate_dataset(config, compute=engine, progress=False)
    assert summary.written == 2 and sorted(engine.calls) == sorted(labels)
    dataset = ShardedDataset(tmp_path / "out")
    assert sorted(dataset.labels) == sorted(labels) and dataset.split_labels("test") == sorted(labels)
    assert all(dataset.group_of(label) == "new_combination" for label in labels)
    assert generate_dataset(config, compute=EmbeddedEngine(embedded), progress=False).skipped == 2
