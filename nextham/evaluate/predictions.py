"""Predicted Hamiltonians as records, shards and DeepH folders: Ĥ over every stored pair of each
structure, in the original's pair order and representation (spinless structures stay spinless),
with E_F and the gap from Ĥ's own bands and the electron count."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..io.deeph import warn_mixed_kinds, write_deeph
from ..io.shards import DatasetWriter
from ..data.batch import unpad_blocks
from ..kspace.occupation import occupation_facts
from ..record import HamiltonianRecord


def _predictions(module, loader):
    module.eval()
    with torch.no_grad():
        for batch in loader:
            yield batch, module(batch)


def predicted_record(original: HamiltonianRecord, blocks, member_of_edge, solver: str = "dense", **metadata) -> tuple:
    """(``original`` with Ĥ in its H(T) slot, Ĥ's occupation): ``blocks`` holds Ĥ for every stored pair in
    the original's order and representation (the pairs no member predicts hold H(0)'s), ``member_of_edge``
    the member of each pair (−1: H(0) kept). Its E_F and gap come from Ĥ's own bands and the electron
    count (``solver``: :meth:`HamiltonianRecord.occupation`'s). The one way a prediction becomes a record,
    for the test report and for new structures."""
    if len(blocks) != original.num_edges:
        raise RuntimeError(f"{original.label}: {len(blocks)} predicted pairs, the structure stores {original.num_edges}")
    dtype = np.complex128 if original.spinful else np.float64
    predicted = original.with_hamiltonian(HamiltonianRecord.flatten_blocks(blocks).astype(dtype),
                                          hamiltonian_0=original.hamiltonian_0.astype(dtype))
    occupation = predicted.occupation(solver=solver)
    predicted.fermi_energy = occupation["fermi_energy"]
    predicted.metadata.update({"prediction": True, **occupation_facts(occupation),
                               "member_of_edge": [int(m) for m in member_of_edge], **metadata})
    return predicted, occupation


def predicted_records(module, data, split: str):
    """(record with hamiltonian = Ĥ, the original record) for every structure of ``split``.

    Ĥ covers every stored pair of the structure, in the original's pair order and representation
    (spinless structures stay spinless): members inside their ranges, H(0) elsewhere; S untouched.
    Its E_F and gap come from Ĥ's own bands and the electron count."""
    loader = data.loader(split)
    for batch, prediction in _predictions(module, loader):
        per_structure = unpad_blocks(prediction["hamiltonian"], batch, data.layout)
        owners = prediction["member_of_edge"].cpu().numpy()
        start = 0
        for label, blocks in zip(batch.labels, per_structure):
            original = data.dataset.read(label)
            predicted, _ = predicted_record(original, blocks, owners[start:start + len(blocks)])
            start += original.num_edges
            yield predicted, original


def save_predictions(module, data, split, folder, deeph_folder=None, spinful: bool = False):
    """Predicted Ĥ as nextham shards (``hamiltonian`` = Ĥ) and optionally DeepH-pack folders
    ``<deeph_folder>/dft/<label>/`` (Ĥ as ``hamiltonian.h5`` and ``hamiltonian_pred.h5`` beside the input's
    overlap and H(0), the input's atom pairs in the input's order, and K_PATH; each structure as what it
    is, or all spinful with ``spinful``)."""
    # stored at the precision the network ran in (the data's dtype), compressed
    writer = DatasetWriter(folder, data.dataset.basis, provenance={"predicted_by": "nextham", "split": split},
                           split_fractions={split: 1.0}, dtype=str(data.hparams.dtype), compression="gzip")
    records, gaps = [], []
    for predicted, original in predicted_records(module, data, split):
        records.append(predicted)
        truth = original.occupation()
        gaps.append({"label": predicted.label, "true_gap_ev": truth["band_gap"],
                     "predicted_gap_ev": predicted.metadata["band_gap_ev"],
                     "h0_gap_ev": original.occupation("hamiltonian_0")["band_gap"],
                     "true_fermi_ev": truth["fermi_energy"], "predicted_fermi_ev": predicted.fermi_energy})
        if deeph_folder is not None:
            write_deeph(Path(deeph_folder) / "dft" / predicted.label, predicted.as_spinful() if spinful else predicted,
                        data.dataset.basis, prediction=True)
    writer.append_shard(records)
    if deeph_folder is not None:
        warn_mixed_kinds(deeph_folder, [r.spinful for r in records], spinful)
    return gaps
