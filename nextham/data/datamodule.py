"""LightningDataModule streaming structures out of sharded HDF5.

* :class:`ShardStructureDataset` reads one structure per index; every DataLoader worker opens its
  own shard handles (:class:`~nextham.data.shards.ShardReader` reopens after a fork).
* :class:`EdgeBudgetBatchSampler` walks the shards in a shuffled order, structures shuffled within
  each shard (reads stay shard-local), packs consecutive structures into batches of at most
  ``edge_budget`` blocks, and deals the batches round-robin to the DDP ranks, padding so that every
  rank gets the same number of batches (unequal counts hang collective operations).
"""
from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from .graphs import SPIN_MODES, collate_graphs, record_to_sample
from .layout import OrbitalLayout
from .shards import ShardedDataset


class ShardStructureDataset(Dataset):
    def __init__(self, dataset: ShardedDataset, labels, spinful: bool, max_edge_length: float | None):
        self.dataset = dataset
        self.labels = list(labels)
        self.spinful = spinful
        self.max_edge_length = max_edge_length
        self.locations = [dataset._locations[label] for label in self.labels]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        record = self.dataset.read(self.labels[index])
        return record_to_sample(record, self.spinful, self.max_edge_length)

    def edge_counts(self) -> np.ndarray:
        return np.array([self.dataset.shards[s].num_edges(p) for s, p in self.locations], dtype=np.int64)


def _distributed_rank_and_size():
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class EdgeBudgetBatchSampler(Sampler):
    """Batches of whole structures with at most ``edge_budget`` blocks each (a structure larger than
    the budget forms a batch alone)."""

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

    def global_batches(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        shards = np.unique(self.shard_of)
        if self.shuffle:
            shards = rng.permutation(shards)
        order = []
        for shard in shards:
            members = np.flatnonzero(self.shard_of == shard)
            order.extend(rng.permutation(members) if self.shuffle else members)
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

    def __iter__(self):
        rank, world_size = self._ranks()
        batches = self.global_batches()
        per_rank = math.ceil(len(batches) / world_size) if batches else 0
        padded = batches + batches[:per_rank * world_size - len(batches)]
        yield from padded[rank::world_size]

    def __len__(self):
        _, world_size = self._ranks()
        return math.ceil(len(self.global_batches()) / world_size)


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
        from . import embedded_dataset_path

        self.root = Path(root) if root else embedded_dataset_path()
        self.dataset = ShardedDataset(self.root)
        self.layout = OrbitalLayout(self.dataset.basis)
        if spin_mode == "auto":
            spinful = self._any_spinful()
        else:
            spinful = spin_mode == "spinful"
        self.spinful = spinful
        self.dtype = getattr(torch, dtype)

    def _any_spinful(self) -> bool:
        for reader in self.dataset.shards:
            reader._open()
            if reader._index["spinful"].any():
                return True
        return False

    def split_dataset(self, split: str) -> ShardStructureDataset:
        labels = self.dataset.split_labels(split)
        return ShardStructureDataset(self.dataset, labels, self.spinful, self.hparams.max_edge_length_angstrom)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        structures = self.split_dataset(split)
        sampler = EdgeBudgetBatchSampler(
            [shard for shard, _ in structures.locations], structures.edge_counts(), self.hparams.edge_budget,
            shuffle=shuffle, seed=self.hparams.seed)
        return DataLoader(structures, batch_sampler=sampler, num_workers=self.hparams.num_workers,
                          collate_fn=partial(collate_graphs, layout=self.layout, spinful=self.spinful, dtype=self.dtype),
                          persistent_workers=False)

    def train_dataloader(self):
        return self._loader(self.hparams.train_split, self.hparams.shuffle)

    def val_dataloader(self):
        return self._loader(self.hparams.val_split, False)

    def test_dataloader(self):
        return self._loader(self.hparams.test_split, False)
