"""Generation is resumable and loses nothing when interrupted; failed structures are never written."""
import pytest

from nextham.errors import ValidationFailedError
from nextham.dft.generate import generate_dataset, structure_specs
from nextham.io.shards import ShardedDataset, read_manifest


def _config(tmp_path, per_shard=2):
    return {
        "output": str(tmp_path / "out"), "seed": 0, "workers": 1, "structures_per_shard": per_shard,
        "engine": {"storage_dtype": "float32"},
        "library": [{"prototype": "diamond", "elements": ["Si", "Si"], "parameters": {"a": 5.431}, "variants": 4,
                     "strain": 0.03, "rattle": 0.04},
                    {"prototype": "diamond", "elements": ["Ge", "Ge"], "parameters": {"a": 5.658}, "variants": 3}],
    }


class EmbeddedEngine:
    """Stands in for PySCF by handing back the real records shipped with the package (same labels,
    same recipe), so these tests exercise the bookkeeping without minutes of DFT."""

    def __init__(self, embedded, interrupt_at=None, fail=()):
        self.embedded, self.interrupt_at, self.fail, self.calls = embedded, interrupt_at, set(fail), []

    def __call__(self, spec, settings):
        self.calls.append(spec.label)
        if len(self.calls) == self.interrupt_at:
            raise KeyboardInterrupt
        if spec.label in self.fail:
            raise ValidationFailedError("eigenvalues differ by 3e-4 Ha", structure=spec.label)
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
    bad = "Ge-diamond-001"
    summary = generate_dataset(config, compute=EmbeddedEngine(embedded, fail={bad}), progress=False)
    assert list(summary.failed) == [bad] and summary.written == 6
    manifest = read_manifest(tmp_path / "out")
    assert "eigenvalues differ" in manifest["failed"][bad]
    assert bad not in ShardedDataset(tmp_path / "out").labels
    # a later run retries it and clears the failure once it succeeds
    generate_dataset(config, compute=EmbeddedEngine(embedded), progress=False)
    assert read_manifest(tmp_path / "out")["failed"] == {}
    assert bad in ShardedDataset(tmp_path / "out").labels
