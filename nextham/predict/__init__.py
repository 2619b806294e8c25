"""Predicting structures nobody has computed — the job nextham is for: read any structure file ASE
reads, rebuild H(0) and S with the engine the training data were made with (no SCF), run the
ensemble, and hand back Ĥ with its bands, DOS, gap, a figure and DeepH-pack files.

    from ase.io import read
    from nextham.predict import Predictor

    result = Predictor("runs/embedded")(read("Si.cif"))
    result.bands(), result.dos(), result.to_deeph("out/Si"), result.plot("Si.png")
"""
from .predictor import Predictor, predict
from .result import PredictedHamiltonian
from ..structures import read_structures, structure_spec

__all__ = ["Predictor", "predict", "PredictedHamiltonian", "read_structures", "structure_spec"]
