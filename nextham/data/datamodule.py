"""LightningDataModule streaming structures out of sharded HDF5.

* :class:`ShardStructureDataset` reads one structure per index; every DataLoader worker opens its
  own shard handles (:class:`~nextham.io.shards.ShardReader` reopens after a fork).
* :class:`EdgeBudgetBatchSampler` deals the shards to the DDP ranks, walks each rank's shards in a
  shuffled order with structures shuffled within each shard (reads stay shard-local), packs them
  into batches of at most ``edge_budget`` blocks, and pads so that every rank yields the same number
  of batches (unequal counts hang collective operations).

``max_edge_length_angstrom`` is the network's graph cutoff. Training batches hold the pairs inside
it (what the members learn); validation, test and prediction batches hold every stored pair, so that
Ĥ, its metrics and its bands are those of the whole Hamiltonian, pairs beyond the graph keeping H(0).
"""
from __future__ import annotations

import warnings
from functools import partial
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..assets import embedded_dataset_path
from ..errors import DataError
from .batch import NO_H0_MESSAGE, SPIN_MODES, collate_graphs, record_to_sample
from ..kspace.populations import POPULATION_MESH_LENGTH_ANGSTROM, mulliken_populations
from .layout import OrbitalLayout
from ..io.shards import ShardedDataset


def with_neutral_electron_count(record, dataset):
    """``record`` with the electron count of its neutral cell from the stored valences, for data written
    without ``num_electrons`` (older shards, imported folders); said once per dataset."""
    count = dataset.basis.neutral_electrons(record.atomic_numbers)
    if np.isfinite(count):
        warnings.warn(f"{dataset.root}: structures without num_electrons get the neutral cell's count from the "
                      f"pseudopotential valences in the basis", stacklevel=2)
        record = record.replace(num_electrons=count)
    return record


class ShardStructureDataset(Dataset):
    def __init__(self, dataset: ShardedDataset, labels, spinful: bool, max_edge_length: float | None,
                 with_populations: bool = False, population_mesh_length: float = POPULATION_MESH_LENGTH_ANGSTROM):
        self.dataset = dataset
        self.population_mesh_length = population_mesh_length
        self.labels = list(labels)
        self.spinful = spinful
        self.max_edge_length = max_edge_length
        self.locations = [dataset.location(label) for label in self.labels]
        self.with_populations = with_populations
        self.populations = {}  # index -> H(0)'s Mulliken populations: a band fill per structure, once per worker

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        record = self.dataset.read(self.labels[index])
        if self.with_populations and not np.isfinite(record.num_electrons):
            record = with_neutral_electron_count(record, self.dataset)
        if self.with_populations and index not in self.populations:
            self.populations[index] = mulliken_populations(record, length_angstrom=self.population_mesh_length)
        return record_to_sample(record, self.spinful, self.max_edge_length, self.populations.get(index))

    def edge_counts(self) -> np.ndarray:
        return np.array([self.dataset.shards[s].num_edges(p) for s, p in self.locations], dtype=np.int64)


def _distributed_rank_and_size():
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class EdgeBudgetBatchSampler(Sampler):
    """Batches of whole structures with at most ``edge_budget`` blocks each (a structure larger than
    the budget forms a batch alone).

    Every epoch the shards are shuffled and dealt round-robin to the DDP ranks (when there are fewer
    shards than ranks, the structures are dealt instead); each rank packs its structures in shard
    order, shuffled within each shard. All ranks compute all ranks' plans (deterministic in seed and
    epoch) and pad theirs cyclically to the longest, so every rank yields the same number of batches."""

    def __init__(self, shard_of, edge_counts, edge_budget: int, shuffle: bool = True, seed: int = 0,
                 rank: int | None = None, world_size: int | None = None):
        self.shard_of = np.asarray(shard_of)
        self.edge_counts = np.asarray(edge_counts)
        self.edge_budget = int(edge_budget)
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0
        self._rank, self._world_size = rank, world_size

    def set_epoch(self, epoch: int):
        self.epoch = epoch

    def _ranks(self):
        if self._rank is not None:
            return self._rank, self._world_size or 1
        return _distributed_rank_and_size()

    def _pack(self, order):
        batches, current, edges = [], [], 0
        for index in order:
            if current and edges + self.edge_counts[index] > self.edge_budget:
                batches.append(current)
                current, edges = [], 0
            current.append(int(index))
            edges += int(self.edge_counts[index])
        if current:
            batches.append(current)
        return batches

    def plans(self, world_size: int):
        """The batches of every rank for the current epoch, before padding."""
        rng = np.random.default_rng([self.seed, self.epoch])
        shards = np.unique(self.shard_of)
        if self.shuffle:
            shards = rng.permutation(shards)
        members = {}
        for shard in shards:
            inside = np.flatnonzero(self.shard_of == shard)
            members[shard] = rng.permutation(inside) if self.shuffle else inside
        if len(shards) >= world_size:
            orders = [np.concatenate([members[s] for s in shards[r::world_size]]) for r in range(world_size)]
        else:
            everything = np.concatenate([members[s] for s in shards]) if len(shards) else np.zeros(0, int)
            orders = [everything[r::world_size] for r in range(world_size)]
        return [self._pack(order) for order in orders]

    def __iter__(self):
        rank, world_size = self._ranks()
        plans = self.plans(world_size)
        length = max(len(plan) for plan in plans)
        mine = plans[rank]
        for step in range(length if mine else 0):
            yield mine[step % len(mine)]

    def __len__(self):
        _, world_size = self._ranks()
        return max(len(plan) for plan in self.plans(world_size))


class HamiltonianDataModule(L.LightningDataModule):
    """Train/val/test loaders over a sharded dataset (the embedded one when ``root`` is None).

    Use ``Trainer(use_distributed_sampler=False)``: the batch sampler does the DDP split itself."""

    def __init__(self, root: str | None = None, edge_budget: int = 4000, max_edge_length_angstrom: float | None = 8.0,
                 spin_mode: str = "auto", num_workers: int = 0, seed: int = 0, shuffle: bool = True,
                 train_split: str = "train", val_split: str = "val", test_split: str = "test",
                 dtype: str = "float64"):
        super().__init__()
        if spin_mode not in SPIN_MODES:
            raise ValueError(f"spin_mode must be one of {SPIN_MODES}, got {spin_mode!r}")
        self.save_hyperparameters()
        self.root = Path(root) if root else embedded_dataset_path()
        self.dataset = ShardedDataset(self.root)
        if not self.dataset.has_hamiltonian_0:
            raise DataError(NO_H0_MESSAGE, path=self.root)
        # the basis family's slots when the generator recorded them, so the model handles unseen elements
        self.layout = OrbitalLayout(self.dataset.basis, (self.dataset.manifest.get("orbital_layout") or {}).get("slots"))
        self.spinful = self.dataset.has_spinful if spin_mode == "auto" else spin_mode == "spinful"
        self.dtype = getattr(torch, dtype)
        self.with_populations = False  # set_populations: only for a network that reads them
        self.population_mesh_length = POPULATION_MESH_LENGTH_ANGSTROM

    def split_dataset(self, split: str, all_pairs: bool = True) -> ShardStructureDataset:
        labels = self.dataset.split_labels(split)
        return ShardStructureDataset(self.dataset, labels, self.spinful,
                                     None if all_pairs else self.hparams.max_edge_length_angstrom, self.with_populations,
                                     self.population_mesh_length)

    def loader(self, split: str, shuffle: bool = False, all_pairs: bool = True) -> DataLoader:
        """Batches of ``split``: every stored pair (``all_pairs``) or only the graph's (training)."""
        structures = self.split_dataset(split, all_pairs)
        sampler = EdgeBudgetBatchSampler(
            [shard for shard, _ in structures.locations], structures.edge_counts(), self.hparams.edge_budget,
            shuffle=shuffle, seed=self.hparams.seed)
        collate = partial(collate_graphs, layout=self.layout, spinful=self.spinful, dtype=self.dtype,
                          graph_cutoff=self.hparams.max_edge_length_angstrom)
        return DataLoader(structures, batch_sampler=sampler, num_workers=self.hparams.num_workers,
                          collate_fn=collate, persistent_workers=False)

    def set_spinful(self, spinful: bool, model: str = "the model"):
        """Batch as a trained model needs: spinful (spinless structures enter as H ⊗ I₂ and are scored in
        their own representation) or spinless, which data holding spin–orbit structures cannot be."""
        if not spinful and self.dataset.has_spinful:
            soc = [r.label for r in self.dataset if r.spinful][:3]
            raise DataError(f"{model} was trained on spinless data and cannot predict spin–orbit Hamiltonians "
                            f"(this dataset holds some, e.g. {', '.join(soc)}); train on data that include "
                            f"spin–orbit structures, or evaluate on spinless ones", path=self.root)
        self.spinful = bool(spinful)

    def serve(self, module, model: str = "the model"):
        """Batch as a trained ``module`` needs: its spin representation and the inputs its network reads."""
        self.set_spinful(module.hparams.spinful, model=model)
        self.set_populations(module.ensemble.reads_populations, module.ensemble.population_mesh_length_angstrom)

    def set_populations(self, needed: bool, mesh_length_angstrom: float = POPULATION_MESH_LENGTH_ANGSTROM):
        """Batch with H(0)'s Mulliken populations (one band fill per structure, on the k-mesh the network
        was trained with) for a network that reads them (``NextHAMEnsemble.reads_populations``)."""
        self.with_populations = bool(needed)
        self.population_mesh_length = float(mesh_length_angstrom)

    def collate(self, records, all_pairs: bool = True):
        """One batch of ``records`` exactly as :meth:`loader` would make it (every stored pair, or only
        the graph's; spinless records of a spinful dataset as H ⊗ I₂)."""
        cutoff = self.hparams.max_edge_length_angstrom
        samples = [record_to_sample(record, self.spinful, None if all_pairs else cutoff,
                                    mulliken_populations(record, length_angstrom=self.population_mesh_length)
                                    if self.with_populations else None) for record in records]
        return collate_graphs(samples, self.layout, self.spinful, self.dtype, graph_cutoff=cutoff)

    def train_dataloader(self):
        return self.loader(self.hparams.train_split, self.hparams.shuffle, all_pairs=False)

    def val_dataloader(self):
        return self.loader(self.hparams.val_split)

    def test_dataloader(self):
        return self.loader(self.hparams.test_split)
