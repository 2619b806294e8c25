"""Predicting the Hamiltonian of a structure nobody has computed: H(0) and S from the engine the
training data were made with (no SCF), then the ensemble; Ĥ over every pair the engine stores
(members inside their ranges, H(0) elsewhere), with a timing breakdown."""
from __future__ import annotations

import os
import time

import numpy as np
import torch

from ..conventions import BasisSet, element_symbol, units
from ..dft.engine_rules import basis_settings, resolve_engine_settings, with_family_rules
from ..errors import BasisMismatchError, DataError, UnknownElementError
from ..data.batch import collate_graphs, record_to_sample, unpad_blocks
from ..kspace.populations import filled_band_populations
from ..data.layout import OrbitalLayout
from ..record import HamiltonianRecord, check_solver
from ..evaluate.domain import atom_features, module_domain, unseen_reason
from ..evaluate.predictions import predicted_record
from ..train.checkpoints import checkpoint_files, load_module, module_dataset_card
from .result import PredictedHamiltonian
from ..structures import structure_spec

# peak bytes per padded block entry and graph pair: 116–158 measured with the demo network over the whole
# graph (benchmarks/inference_scaling.py, 128 and 432 atoms), rounded up
BYTES_PER_BLOCK_ENTRY = 256


def available_memory_bytes() -> int:
    """MemAvailable of this machine (Linux), else 8 GiB."""
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 1024 ** 3


class Predictor:
    """A trained model ready for new structures.

    ``checkpoints``: files or run directories (members trained separately combine); None, the model
    shipped with the package. ``device``: "cpu",
    "cuda" or a torch device. ``memory_gb``: refuse structures whose estimated peak memory exceeds it
    (default 80 % of the memory available now). ``engine_settings``: override the settings the
    checkpoint carries (e.g. for a checkpoint of imported data, which carries none). ``chunk_atoms``:
    run the network on pieces of that many atoms (plus their receptive halo); by default pieces are
    used only when the whole graph would not fit half the memory budget. ``solver``: ``dense``, ``sparse``
    (E_F, gap, bands near E_F and DOS without a dense eigensolve, :mod:`nextham.kspace.sparse`) or
    ``auto`` (sparse above :data:`nextham.record.SPARSE_ABOVE_ROWS` rows of H(k))."""

    def __init__(self, checkpoints=None, device="cpu", memory_gb: float | None = None, engine_settings: dict | None = None,
                 chunk_atoms: int | None = None, solver: str = "auto"):
        from ..dft.engine_settings import PySCFSettings

        if checkpoints is None:
            from ..assets import shipped_checkpoint

            checkpoints = shipped_checkpoint()
        self.solver = check_solver(solver)  # refused before any checkpoint is read
        files = checkpoint_files([checkpoints] if isinstance(checkpoints, (str, os.PathLike)) else checkpoints)
        self.checkpoints = [str(f) for f in files]
        self.module = load_module(files)
        self.domain = module_domain(self.module)  # None for a checkpoint `nextham domain` has not calibrated
        self.card = module_dataset_card(self.module, files[0])
        settings = engine_settings or self.card.get("engine_settings")
        self.engine_overrides = [] if engine_settings else list(self.card.get("engine_overrides") or [])
        if not settings:
            raise DataError("the checkpoint's training data carry no engine settings (imported DFT data): "
                            "H(0) of a new structure cannot be rebuilt as the model expects; pass the settings "
                            "the data were made with (--engine CONFIG)", path=self.checkpoints[0])
        self.engine_settings = with_family_rules(dict(settings))
        self.settings = PySCFSettings.from_dict(resolve_engine_settings(self.engine_settings, ()))
        self.basis = BasisSet.from_dict(self.card["basis"])
        self.trained_elements = frozenset(self.basis.elements)
        # a checkpoint written before it carried the basis family's layout uses its training elements'
        self.layout = OrbitalLayout(self.basis, (self.card.get("layout") or {}).get("slots"))
        self.spinful_model = bool(self.module.hparams.spinful)
        self.graph_cutoff = self.card.get("graph_cutoff")
        self.dtype = getattr(torch, self.card.get("dtype") or "float64")
        self.device = torch.device(device)
        self.module = self.module.to(self.device)
        self.memory_bytes = memory_gb * 1024 ** 3 if memory_gb else 0.8 * available_memory_bytes()
        self.chunk_atoms = chunk_atoms

    def settings_for(self, symbols, path=None, structure=None):
        """The engine settings the training data used for a structure of these elements: the recipe's
        settings resolved by its per-element rules (as ``nextham data generate`` resolves them; an element
        without a rule is an error naming it), with the per-entry overrides of every library entry made
        of a subset of them."""
        from ..dft.generate import merge_engine_settings
        from ..dft.engine_settings import PySCFSettings

        soc = bool(set(symbols)) and set(symbols) <= self._soc_elements()
        merged = resolve_engine_settings(self.engine_settings, symbols, path, structure, soc=soc)
        for entry in self.engine_overrides:
            if set(entry["elements"]) <= set(symbols):
                merged = merge_engine_settings(merged, entry["engine"])
        return PySCFSettings.from_dict(merged)

    # ------------------------------------------------------------------ checks before any DFT
    def _soc_elements(self) -> set:
        """Elements whose basis in the checkpoint is the spin–orbit engine's (an SO-ECP)."""
        ecp = self.settings.soc.ecp
        return {s for s, b in self.basis.elements.items() if s in ecp and b.pseudopotential == ecp[s]}

    def spec(self, atoms, label: str, path=None):
        """Checked engine input for ``atoms``: known elements, one engine recipe, fits the memory budget."""
        symbols = sorted(set(atoms.get_chemical_symbols()))
        self._admit_unseen([s for s in symbols if s not in self.basis], symbols, path, label)
        soc = [s for s in symbols if s in self._soc_elements()]
        if soc and len(soc) != len(symbols):
            raise BasisMismatchError(
                f"{', '.join(soc)} carry the spin–orbit basis in this checkpoint and "
                f"{', '.join(sorted(set(symbols) - set(soc)))} the scalar-relativistic one; no engine recipe of the "
                f"training data combines them", path=path, structure=label)
        if soc and not self.spinful_model:
            raise DataError("this checkpoint was trained on spinless data and cannot predict spin–orbit "
                            "Hamiltonians", path=path, structure=label)
        self.settings_for(symbols, path, label)  # every element has an engine rule, or a one-line error
        spec = structure_spec(atoms, label, path, soc=bool(soc))
        engine, network, record = self.memory_estimate(spec)
        # the builder's meshes are gone when the network runs (in pieces when it must) beside the record
        need = max(engine, record + min(network, 0.5 * self.memory_bytes))
        if need > self.memory_bytes:
            raise DataError(f"needs about {need / 1024 ** 3:.1f} GB (H(0) and S: {engine / 1024 ** 3:.1f} GB), more "
                            f"than the budget of {self.memory_bytes / 1024 ** 3:.1f} GB; raise --memory-gb or run on "
                            f"a larger machine", path=path, structure=label)
        return spec

    def _admit_unseen(self, unseen, symbols, path, label):
        """Elements the model was not trained on are predicted when the engine's basis for them fits the
        checkpoint's orbital layout (that of the basis family); their structures are reported as such."""
        from ..dft.engine_settings import PySCFSettings
        from ..dft.cell import element_basis

        if not unseen:
            return
        settings = PySCFSettings.from_dict(basis_settings(self.engine_settings))
        soc = bool(self._soc_elements() & set(symbols))
        bases = {}
        for symbol in unseen:
            try:
                bases[symbol] = element_basis(symbol, settings, soc=soc)
            except UnknownElementError as error:
                raise UnknownElementError(f"{error}; this checkpoint was trained on "
                                          f"{', '.join(sorted(self.trained_elements))}", path=path,
                                          structure=label) from None
            if not self.layout.fits(bases[symbol].shells):
                raise UnknownElementError(
                    f"element {symbol} is new to this checkpoint and its basis {bases[symbol].name} (shells "
                    f"{bases[symbol].describe()}) does not fit the checkpoint's orbital layout "
                    f"{self.layout.describe()}; train on data that include it", path=path, structure=label)
        self.layout = self.layout.with_elements(BasisSet(bases))
        self.basis = self.layout.basis

    def unseen_elements(self, symbols) -> list:
        """Elements of ``symbols`` that were not in the training data."""
        return sorted(set(symbols) - self.trained_elements)

    def chunk_for(self, num_atoms: int, network_bytes: float) -> int | None:
        """Atoms per piece of the network's graph: the user's choice, else None (one piece) when the
        whole graph fits half the memory budget, else a quarter of the budget's worth of atoms."""
        if self.chunk_atoms:
            return int(self.chunk_atoms)
        if network_bytes <= 0.5 * self.memory_bytes:
            return None
        return max(1, int(num_atoms * 0.25 * self.memory_bytes / network_bytes))

    def _ft_points(self, spec) -> int:
        from ..dft.cell import kpoint_meshes

        _, dense = kpoint_meshes(spec.lattice, self.settings_for(spec.symbols))
        return int(np.prod(dense))

    def _network_bytes(self, pairs: int) -> float:
        size = self.layout.num_orbitals * (2 if self.spinful_model else 1)
        return float(pairs * size * size * BYTES_PER_BLOCK_ENTRY)

    def memory_estimate(self, spec) -> tuple:
        """(engine, network, record) bytes at the peak. Engine: the real-space builder's blocks, mesh
        arrays and one box (:func:`nextham.dft.realspace.memory_estimate`), or for the k-space path H(0),
        S and their Fourier transforms (complex, n² per k-point). Network: its activations over the
        padded blocks of every pair in its graph. Record: H(0), S and Ĥ of every stored pair."""
        from ase import Atoms
        from ase.neighborlist import neighbor_list

        from ..dft.realspace import memory_estimate

        settings = self.settings_for(spec.symbols)
        atoms = Atoms(spec.symbols, positions=spec.positions, cell=spec.lattice, pbc=True)
        count = lambda cutoff: len(neighbor_list("i", atoms, float(cutoff))) + len(atoms)
        width = max(self.basis[s].num_orbitals for s in spec.symbols)
        pairs = count(settings.pair_cutoff_angstrom)
        record = 3.0 * pairs * (width * (2 if spec.soc else 1)) ** 2 * 8
        if settings.uses_realspace(spec.soc):
            engine = memory_estimate(np.asarray(spec.lattice) * units.ANGSTROM_TO_BOHR, settings.ke_cutoff_hartree,
                                     pairs, width)
        else:
            orbitals = sum(self.basis[s].num_orbitals for s in spec.symbols) * (2 if spec.soc else 1)
            engine = 6 * self._ft_points(spec) * orbitals ** 2 * 16
        return float(engine), self._network_bytes(count(self.graph_cutoff or settings.pair_cutoff_angstrom)), record

    # ------------------------------------------------------------------ prediction
    def __call__(self, atoms, label: str | None = None, path=None) -> PredictedHamiltonian:
        """Ĥ of ``atoms`` (an ase.Atoms)."""
        from ..dft.pyscf_engine import zeroth_step_blocks

        label = label or atoms.get_chemical_formula()
        timings = {}
        start = time.perf_counter()
        spec = self.spec(atoms, label, path)
        settings = self.settings_for(spec.symbols)
        settings.device = self.device.type  # the real-space builder's grid work runs where the network does
        record, element_basis = zeroth_step_blocks(spec, settings, progress=len(spec.symbols) >= 64)
        for symbol, basis in element_basis.items():
            if basis.shells != self.basis[symbol].shells:
                raise BasisMismatchError(f"the engine gives {symbol} shells {list(basis.shells)}, the checkpoint "
                                         f"{list(self.basis[symbol].shells)}: the engine settings differ from the "
                                         f"training data's", path=path, structure=label)
        timings["h0_and_overlap_s"] = time.perf_counter() - start
        return self.correct(record, atoms, timings)

    def correct(self, record: HamiltonianRecord, atoms=None, timings: dict | None = None) -> PredictedHamiltonian:
        """Ĥ = H(0) + ΔĤ for a record that holds H(0) and S (its ``hamiltonian`` is ignored): the
        members answer for the pairs inside the graph cutoff (the only pairs collated, in pieces when
        memory requires), every other pair keeps H(0)."""
        from ase import Atoms

        timings = dict(timings or {})
        symbols = sorted({element_symbol(z) for z in record.atomic_numbers})
        self._admit_unseen([s for s in symbols if s not in self.basis], symbols, None, record.label)
        start = time.perf_counter()
        inside = np.flatnonzero(record.edge_distances() <= (self.graph_cutoff or np.inf) + 1e-9)
        graph = record.select_edges(inside)
        solver = record.resolve_solver(self.solver)
        # the populations fill H(0)'s bands, which needs every stored pair, not only the graph's
        ensemble = self.module.ensemble
        populations = (filled_band_populations(record, solver, length_angstrom=ensemble.population_mesh_length_angstrom)
                       if ensemble.reads_populations else None)
        batch = collate_graphs([record_to_sample(graph, self.spinful_model, populations=populations)],
                               self.layout, self.spinful_model, self.dtype).to(self.device)
        timings["graph_s"] = time.perf_counter() - start
        start = time.perf_counter()
        chunk = self.chunk_for(record.num_atoms, self._network_bytes(graph.num_edges))
        with torch.no_grad():
            output = self.module.ensemble(batch, chunk_atoms=chunk)
        (blocks,) = unpad_blocks(output["hamiltonian"], batch, self.layout)
        hamiltonian = list(record.blocks("hamiltonian_0"))  # the pairs beyond the graph keep H(0)
        for edge, block in zip(inside, blocks):
            hamiltonian[edge] = block
        owner = np.full(record.num_edges, -1, dtype=np.int64)
        owner[inside] = output["member_of_edge"].cpu().numpy()
        verdict = self.domain_verdict(output, batch)
        timings["inference_s"] = time.perf_counter() - start
        start = time.perf_counter()
        predicted, occupation = predicted_record(record, hamiltonian, owner, solver=solver, checkpoints=self.checkpoints,
                                                 unseen_elements=self.unseen_elements(symbols), chunk_atoms=chunk,
                                                 **verdict)
        timings["eigensolver_s"] = time.perf_counter() - start
        if atoms is None:
            atoms = Atoms(numbers=record.atomic_numbers, positions=record.positions, cell=record.lattice, pbc=True)
        # the basis of this structure's elements, admitted new ones included: a value of the result, so a
        # caller writing it needs nothing of the predictor's state
        basis = BasisSet({symbol: self.basis[symbol] for symbol in symbols})
        return PredictedHamiltonian(predicted, basis, atoms.copy(), occupation, timings, solver)

    def domain_verdict(self, output, batch) -> dict:
        """Whether the structure of ``batch`` lies in the model's domain (:mod:`nextham.evaluate.domain`):
        from the checkpoint's statistics, or, where it has none, from its elements alone."""
        ((symbols, features),) = atom_features(output, batch)
        if self.domain is not None:
            return self.domain.assess(symbols, features)
        unseen = self.unseen_elements(set(symbols))
        return {"in_domain": False if unseen else None, "domain_score": None,
                "domain_reason": unseen_reason(unseen) if unseen else
                "not calibrated (nextham domain writes the statistics into the checkpoint)"}

    def __repr__(self):
        return (f"Predictor({len(self.module.ensemble.members)} members, {'spinful' if self.spinful_model else 'spinless'}, "
                f"trained on {', '.join(sorted(self.trained_elements))}, layout {self.layout.describe()}, "
                f"device {self.device})")


def predict(atoms, checkpoints, **options) -> PredictedHamiltonian:
    """One-call form: ``predict(ase.io.read("Si.cif"), "runs/embedded")``."""
    return Predictor(checkpoints, **options)(atoms)
