"""Everything a training run is built from, each from its config section: the datamodule (``data``),
the LightningModule (``model``, ``loss``, ``optimizer``), the callbacks (``callbacks``), the logger and
the Trainer (``trainer``)."""
from __future__ import annotations

from pathlib import Path

import lightning as L

from ..data.datamodule import HamiltonianDataModule
from .callbacks import KSpaceValidationCallback
from .module import NextHAMModule
from .output_units import with_member_output_units

CHECKPOINT_DIR = "checkpoints"
LAST_NAME, BEST_NAME = "last", "best"  # <output>/checkpoints/last.ckpt (resume) and best.ckpt (evaluate)


def build_datamodule(config) -> HamiltonianDataModule:
    return HamiltonianDataModule(**config["data"])


def dataset_card(dataset, graph_cutoff, dtype: str, layout=None, train_split: str | None = "train") -> dict:
    """What a checkpoint must carry to predict a structure it has never seen: the basis of every element
    of its training split (elements only the test split holds are unseen to it), the orbital layout (the
    basis family's, so that elements it never saw fit), the engine settings ``dataset`` was made with (to
    rebuild H(0) and S exactly), the graph cutoff and the dtype the network was fed. ``train_split``
    None: every element of the dataset (the card of a checkpoint written before cards existed)."""
    provenance = dataset.manifest.get("provenance", {})
    trained = (dataset.elements_of(dataset.split_labels(train_split)) if train_split else set()) \
        or set(dataset.basis.elements)
    basis = {symbol: spec for symbol, spec in dataset.basis.to_dict().items() if symbol in trained}
    return {"basis": basis, "layout": layout.to_dict() if layout is not None else None,
            "engine": provenance.get("engine"),
            "engine_settings": provenance.get("settings"), "engine_overrides": engine_overrides(provenance),
            "graph_cutoff": graph_cutoff, "dtype": dtype, "root": str(dataset.root)}


def engine_overrides(provenance: dict) -> list:
    """The per-entry engine settings of a generation recipe ([{elements, engine}]): a structure made of
    these elements was computed with them (e.g. the Al compounds' longer Fourier range)."""
    return [{"elements": sorted(set(entry["elements"])), "engine": dict(entry["engine"])}
            for entry in provenance.get("library", []) or [] if entry.get("engine")]


def build_module(config, data: HamiltonianDataModule) -> NextHAMModule:
    """The module ``config`` describes, for ``data`` (which it then tells what the network reads)."""
    model = with_member_output_units(config["model"], data.dataset, data.dataset.split_labels(data.hparams.train_split))
    module = NextHAMModule(data.layout.slot_ls, data.spinful, model=model, loss=config["loss"],
                           optimizer=config.get("optimizer"), members_to_train=config.get("members_to_train", "all"),
                           seed=int(config.get("seed", 0)),
                           dataset=dataset_card(data.dataset, data.hparams.max_edge_length_angstrom, data.hparams.dtype,
                                                data.layout, data.hparams.train_split))
    data.set_populations(module.ensemble.reads_populations, module.ensemble.population_mesh_length_angstrom)
    return module


def build_trainer(config, **overrides) -> L.Trainer:
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import TensorBoardLogger

    output = Path(config["output"])
    options = dict(config["callbacks"]["checkpoint"])
    every, monitor, mode = int(options.pop("every_n_epochs", 1)), options.pop("monitor"), options.pop("mode", "min")
    if options:
        raise ValueError(f"callbacks.checkpoint: unknown keys {sorted(options)}; it holds every_n_epochs, monitor, mode")
    # two files: the latest state, which resuming continues (Lightning's save_last beside a monitor
    # would only copy the best epoch), and the best validation epoch, which test and predict read. The
    # best one goes first, so the latest state holds its updated record of the best score
    common = {"dirpath": output / CHECKPOINT_DIR, "every_n_epochs": every, "auto_insert_metric_name": False,
              "enable_version_counter": False, "save_top_k": 1}
    latest = ModelCheckpoint(filename=LAST_NAME, monitor=None, **common)
    best = ModelCheckpoint(filename=BEST_NAME, monitor=monitor, mode=mode, **common)
    callbacks = [best, latest, KSpaceValidationCallback(**config["callbacks"]["kspace"])]
    options = {**config["trainer"], **overrides}
    return L.Trainer(logger=TensorBoardLogger(output, name="logs"), callbacks=callbacks,
                     default_root_dir=output, use_distributed_sampler=False, **options)
