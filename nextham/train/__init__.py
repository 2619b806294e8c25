"""Training: the LightningModule (all members on the joint loss), the k-space validation callback,
builders that make every piece from its config section, checkpoints, and ``fit``."""
from .builders import build_datamodule, build_module, build_trainer
from .checkpoints import best_checkpoint, checkpoint_files, last_checkpoint, load_module
from .module import NextHAMModule, NonFiniteLossError
from .optimizer import build_optimizer, optimizer_options
from .run import fit

__all__ = ["best_checkpoint", "build_datamodule", "build_module", "build_optimizer", "build_trainer", "checkpoint_files",
           "last_checkpoint", "load_module", "NextHAMModule", "NonFiniteLossError", "optimizer_options", "fit"]
