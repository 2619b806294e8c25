"""What the network eats: the padded orbital layout shared by every element of a dataset, batches of
structures as one disconnected graph (collation and the way back to per-structure blocks), and the
LightningDataModule streaming shards with a public ``loader(split)`` and ``collate(records)``."""
from .batch import HamiltonianBatch, collate_graphs, record_to_sample, structure_blocks, unpad_blocks
from .datamodule import HamiltonianDataModule
from .layout import OrbitalLayout

__all__ = ["HamiltonianBatch", "collate_graphs", "record_to_sample", "structure_blocks", "unpad_blocks",
           "HamiltonianDataModule", "OrbitalLayout"]
