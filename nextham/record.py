"""One structure's Hamiltonian data in memory — the unit every reader, writer, engine and exporter
shares: :class:`HamiltonianRecord` with its validation, Hermitian partners, copies (edge subsets,
atom reorder, precision, spinor form, a predicted H), Bloch sums and the band check against the DFT
code's own eigenvalues."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from .conventions import BasisSet, element_symbol, rotate_block, spin_diagonal
from .kspace import BlockSums, bloch_sum_blocks, generalized_eigvalsh, occupation_summary
from .kspace.occupation import DEFAULT_FERMI_TOLERANCE_EV, converged_occupation
from .errors import BasisMismatchError, CorruptShardError, MissingBlockError, NonFiniteBlockError

MATRIX_KINDS = ("hamiltonian_0", "hamiltonian", "overlap")
SOLVERS = ("dense", "sparse", "auto")
# above this many rows of H(k) (orbitals, ×2 with spin–orbit coupling) `auto` takes the sparse path: a
# dense eigensolve there needs gigabytes per k-point and grows as rows³. Below it the dense one is faster
# (SiC at Γ, one thread beside other work: 1,728 rows 14 s dense, 42 s sparse; 4,096 rows 179 s dense,
# 217 s sparse): pairs to 10 Å fill a tenth of H(k) at 1,000 atoms
SPARSE_ABOVE_ROWS = 16000


def check_solver(solver: str) -> str:
    """``solver`` when it is one of SOLVERS, else a one-line error naming them."""
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, not {solver!r}")
    return solver
EIGENVALUE_CHUNK_BYTES = 256 * 1024 ** 2


def partner_edges(edge_index, cell_shifts) -> np.ndarray:
    """For every edge (i, j, R) the index of (j, i, −R), whose block is the Hermitian conjugate;
    −1 where it is absent."""
    lookup = edge_keys(edge_index, cell_shifts)
    return np.array([lookup.get((j, i, -a, -b, -c), -1) for i, j, a, b, c in lookup], dtype=np.int64)


def edge_keys(edge_index, cell_shifts) -> dict:
    """{(i, j, R1, R2, R3): edge index} (keys in edge order; edges are unique)."""
    edge_index = np.asarray(edge_index, dtype=np.int64).reshape(-1, 2)
    cell_shifts = np.asarray(cell_shifts, dtype=np.int64).reshape(-1, 3)
    return {(i, j, *shift): e for e, ((i, j), shift) in enumerate(zip(edge_index.tolist(), cell_shifts.tolist()))}


@dataclass
class HamiltonianRecord:
    """Blocks H_ij(R) of one crystal, in eV and Å, canonical orbital order.

    Edges (i, j, R) are rows of ``edge_index`` / ``cell_shifts``. The blocks of every matrix are
    concatenated row-major into one flat array with per-edge offsets: ``hamiltonian_0`` (H(0)),
    ``hamiltonian`` (H(T)) — complex with spin-major (2n_i × 2n_j) blocks when ``spinful`` — and the
    always spinless real ``overlap``.
    """

    label: str
    atomic_numbers: np.ndarray
    positions: np.ndarray
    lattice: np.ndarray
    orbital_counts: np.ndarray
    edge_index: np.ndarray
    cell_shifts: np.ndarray
    hamiltonian_0: np.ndarray | None
    hamiltonian: np.ndarray
    overlap: np.ndarray
    spinful: bool = False
    fermi_energy: float = float("nan")
    num_electrons: float = float("nan")
    reference_kpoints: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    reference_eigenvalues: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.atomic_numbers = np.asarray(self.atomic_numbers, dtype=np.int64)
        self.positions = np.asarray(self.positions, dtype=np.float64).reshape(-1, 3)
        self.lattice = np.asarray(self.lattice, dtype=np.float64).reshape(3, 3)
        self.orbital_counts = np.asarray(self.orbital_counts, dtype=np.int64)
        self.edge_index = np.asarray(self.edge_index, dtype=np.int64).reshape(-1, 2)
        self.cell_shifts = np.asarray(self.cell_shifts, dtype=np.int64).reshape(-1, 3)
        self.reference_kpoints = np.asarray(self.reference_kpoints, dtype=np.float64).reshape(-1, 3)
        self.reference_eigenvalues = np.asarray(self.reference_eigenvalues, dtype=np.float64)
        self.fermi_energy = float("nan") if self.fermi_energy is None else float(self.fermi_energy)
        self.num_electrons = float("nan") if self.num_electrons is None else float(self.num_electrons)

    @property
    def has_hamiltonian_0(self) -> bool:
        return self.hamiltonian_0 is not None

    @property
    def matrix_kinds(self) -> tuple:
        """The matrices this record holds (H(0) only when present)."""
        return MATRIX_KINDS if self.has_hamiltonian_0 else MATRIX_KINDS[1:]

    # ------------------------------------------------------------------ sizes and offsets
    @property
    def num_atoms(self) -> int:
        return len(self.atomic_numbers)

    @property
    def num_edges(self) -> int:
        return len(self.edge_index)

    @property
    def spin_factor(self) -> int:
        return 2 if self.spinful else 1

    def block_shapes(self, kind: str) -> np.ndarray:
        factor = self.spin_factor if kind != "overlap" else 1
        counts = self.orbital_counts
        return np.stack([counts[self.edge_index[:, 0]], counts[self.edge_index[:, 1]]], axis=1) * factor

    def block_offsets(self, kind: str) -> np.ndarray:
        sizes = self.block_shapes(kind).prod(axis=1)
        return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    def orbital_offsets(self, spinor: bool = False) -> np.ndarray:
        """First row of each atom (N+1) in the full matrix; ``spinor``: of the spin-major (2n) blocks."""
        return np.concatenate([[0], np.cumsum(self.orbital_counts * (2 if spinor else 1))]).astype(np.int64)

    def blocks(self, kind: str):
        """List of per-edge blocks (views into the flat array)."""
        flat = getattr(self, kind)
        if flat is None:
            raise MissingBlockError(f"{kind} is not stored (data imported without H(0))", structure=self.label)
        offsets, shapes = self.block_offsets(kind), self.block_shapes(kind)
        return [flat[offsets[e]:offsets[e + 1]].reshape(shapes[e]) for e in range(self.num_edges)]

    @staticmethod
    def flatten_blocks(blocks) -> np.ndarray:
        if not len(blocks):
            return np.zeros(0)
        return np.concatenate([np.asarray(b).ravel() for b in blocks])

    @property
    def formula(self) -> str:
        counts = {}
        for z in self.atomic_numbers:
            counts[element_symbol(z)] = counts.get(element_symbol(z), 0) + 1
        return "".join(f"{s}{n if n > 1 else ''}" for s, n in counts.items())

    def edge_vectors(self) -> np.ndarray:
        """r_ij = τ_j + R·L − τ_i in Å."""
        i, j = self.edge_index[:, 0], self.edge_index[:, 1]
        return self.positions[j] + self.cell_shifts @ self.lattice - self.positions[i]

    def edge_distances(self) -> np.ndarray:
        return np.linalg.norm(self.edge_vectors(), axis=1)

    def replace(self, **changes) -> "HamiltonianRecord":
        """A copy with ``changes`` (fields); the metadata dict is copied, never shared."""
        return dataclasses.replace(self, **{"metadata": dict(self.metadata), **changes})

    def select_edges(self, keep) -> "HamiltonianRecord":
        """A copy holding only the edges where ``keep`` (bool mask or index array) is true."""
        keep = np.flatnonzero(np.asarray(keep)) if np.asarray(keep).dtype == bool else np.asarray(keep)
        subset = {"hamiltonian_0": None}
        for kind in self.matrix_kinds:
            blocks = self.blocks(kind)
            subset[kind] = self.flatten_blocks([blocks[e] for e in keep]).astype(getattr(self, kind).dtype)
        return self.replace(edge_index=self.edge_index[keep], cell_shifts=self.cell_shifts[keep], **subset)

    def astype(self, real_dtype) -> "HamiltonianRecord":
        """A copy with blocks in ``real_dtype`` (complex of the same precision when spinful)."""
        real_dtype = np.dtype(real_dtype)
        complex_dtype = np.result_type(real_dtype, np.complex64)
        hamiltonian_dtype = complex_dtype if self.spinful else real_dtype
        return self.replace(hamiltonian_0=None if self.hamiltonian_0 is None else self.hamiltonian_0.astype(hamiltonian_dtype),
                            hamiltonian=self.hamiltonian.astype(hamiltonian_dtype), overlap=self.overlap.astype(real_dtype))

    def rounded(self, hamiltonian_exponent: int, overlap_exponent: int) -> "HamiltonianRecord":
        """A copy whose H(T), H(0) entries are integer multiples of 2^hamiltonian_exponent eV and S entries
        of 2^overlap_exponent (real and imaginary parts alike), in the same dtype.

        Storage rounding: a float32 entry below 2^(exponent+24) then has zero low mantissa bits, which
        gzip removes, while the error (at most half a step) stays below the float32 spacing of the
        large on-site entries."""
        def round_to(array, exponent):
            if array is None:
                return None
            step = 2.0 ** int(exponent)
            array = np.ascontiguousarray(array)
            parts = array.view(array.real.dtype)  # (re, im) pairs when complex
            return (np.round(parts.astype(np.float64) / step) * step).astype(parts.dtype).view(array.dtype)

        return self.replace(hamiltonian_0=round_to(self.hamiltonian_0, hamiltonian_exponent),
                            hamiltonian=round_to(self.hamiltonian, hamiltonian_exponent),
                            overlap=round_to(self.overlap, overlap_exponent))

    def as_spinful(self) -> "HamiltonianRecord":
        """The same data in the spinor basis: H ⊗ I₂ (spin-major blocks), each eigenvalue twice."""
        if self.spinful:
            return self
        spin = lambda kind: None if getattr(self, kind) is None else self.flatten_blocks(
            [spin_diagonal(b) for b in self.blocks(kind)]).astype(np.result_type(getattr(self, kind).dtype,
                                                                               np.complex64))
        eigenvalues = np.repeat(self.reference_eigenvalues, 2, axis=-1) if self.reference_eigenvalues.size \
            else self.reference_eigenvalues
        return self.replace(hamiltonian_0=spin("hamiltonian_0"), hamiltonian=spin("hamiltonian"), spinful=True,
                            reference_eigenvalues=eigenvalues)

    def with_hamiltonian(self, hamiltonian, **changes) -> "HamiltonianRecord":
        """A copy whose H(T) slot holds ``hamiltonian`` (e.g. a prediction Ĥ, same edges and layout)."""
        return self.replace(hamiltonian=hamiltonian, **changes)

    def supercell(self, repeats) -> "HamiltonianRecord":
        """The same crystal described in an n1 × n2 × n3 supercell: atom (t, i) sits at τ_i + t·L, and
        the block of each stored pair (i, j, R) reappears for every t as the pair ((t, i), (t', j), R')
        with t + R = t' + n∘R'. Exact for any matrix in a localized basis (no DFT needed): the large cells
        of tests and benchmarks. Reference eigenvalues are not carried over (the k-points fold)."""
        repeats = np.asarray(repeats, dtype=np.int64).reshape(3)
        if (repeats < 1).any():
            raise ValueError(f"supercell repeats must be positive, got {repeats.tolist()}")
        translations = np.array(np.meshgrid(*[np.arange(n) for n in repeats], indexing="ij")).reshape(3, -1).T
        count, natoms = len(translations), self.num_atoms
        index_of = {tuple(t): k for k, t in enumerate(translations.tolist())}
        absolute = translations[:, None, :] + self.cell_shifts[None, :, :]            # (T, E, 3)
        inner = np.mod(absolute, repeats)
        outer = (absolute - inner) // repeats
        inner_index = np.array([index_of[tuple(t)] for t in inner.reshape(-1, 3).tolist()]).reshape(count, -1)
        edge_index = np.stack([np.arange(count)[:, None] * natoms + self.edge_index[None, :, 0],
                               inner_index * natoms + self.edge_index[None, :, 1]], axis=-1).reshape(-1, 2)
        tiled = {kind: None if getattr(self, kind) is None else np.tile(getattr(self, kind), count)
                 for kind in MATRIX_KINDS}
        occupation = self.num_electrons * count if np.isfinite(self.num_electrons) else self.num_electrons
        return self.replace(
            label=f"{self.label}-x{'x'.join(map(str, repeats.tolist()))}",
            atomic_numbers=np.tile(self.atomic_numbers, count), orbital_counts=np.tile(self.orbital_counts, count),
            positions=(translations @ self.lattice)[:, None, :].repeat(natoms, 1).reshape(-1, 3)
            + np.tile(self.positions, (count, 1)),
            lattice=repeats[:, None] * self.lattice, edge_index=edge_index, cell_shifts=outer.reshape(-1, 3),
            num_electrons=occupation, reference_kpoints=np.zeros((0, 3)), reference_eigenvalues=np.zeros((0, 0)),
            **tiled)

    def reordered(self, order) -> "HamiltonianRecord":
        """The same structure with atoms listed in ``order`` (new atom k = old atom order[k])."""
        order = np.asarray(order)
        if np.array_equal(order, np.arange(self.num_atoms)):
            return self
        new_index = np.empty_like(order)
        new_index[order] = np.arange(len(order))
        return self.replace(atomic_numbers=self.atomic_numbers[order], positions=self.positions[order],
                            orbital_counts=self.orbital_counts[order], edge_index=new_index[self.edge_index])

    def rotated(self, rotation, basis: BasisSet) -> "HamiltonianRecord":
        """The same crystal rotated (or inverted) by the 3×3 orthogonal ``rotation``: positions and
        lattice turn, every block transforms with the Wigner matrices of its shells (and SU(2) on the
        spin of spinful blocks). Used for equivariance tests and rotation augmentation."""
        rotation = np.asarray(rotation, dtype=np.float64)
        shells = [basis.for_atomic_number(z).shells for z in self.atomic_numbers]
        turned = {"hamiltonian_0": None}
        for kind in self.matrix_kinds:
            spinful = self.spinful and kind != "overlap"
            blocks = [rotate_block(block, shells[i], shells[j], rotation, spinful)
                      for block, (i, j) in zip(self.blocks(kind), self.edge_index)]
            turned[kind] = self.flatten_blocks(blocks).astype(getattr(self, kind).dtype)
        return self.replace(positions=self.positions @ rotation.T, lattice=self.lattice @ rotation.T, **turned)

    def edge_lookup(self) -> dict:
        """{(i, j, R1, R2, R3): edge index}."""
        return edge_keys(self.edge_index, self.cell_shifts)

    def partner_index(self) -> np.ndarray:
        """Index of each edge's Hermitian partner (j, i, −R); −1 where it is missing."""
        return partner_edges(self.edge_index, self.cell_shifts)

    def hermiticity_error(self) -> float:
        """max |M_ij(R) − M_ji(−R)†| over every stored matrix and edge (eV for H; a missing partner is
        :meth:`validate`'s business and is skipped here)."""
        partners = self.partner_index()
        worst = 0.0
        for kind in self.matrix_kinds:
            blocks = self.blocks(kind)
            for e, partner in enumerate(partners):
                if partner >= 0:
                    worst = max(worst, float(np.abs(blocks[e] - blocks[partner].conj().T).max(initial=0.0)))
        return worst

    # ------------------------------------------------------------------ reciprocal space
    def matrix_k(self, kind: str, kpoints_frac) -> np.ndarray:
        """Bloch sum of one matrix (:mod:`nextham.kspace`: rows atom by atom, spin-major inside an
        atom when spinful). The overlap of a spinful record is returned spinless (use
        :meth:`overlap_k` for the spinor-sized one)."""
        return bloch_sum_blocks(self.blocks(kind), self.edge_index, self.cell_shifts,
                                self.orbital_offsets(spinor=self.spinful and kind != "overlap"), kpoints_frac)

    def spinor_overlap_blocks(self) -> list:
        """Overlap blocks sized like the Hamiltonian blocks (S ⊗ I₂, spin-major, when spinful)."""
        return [spin_diagonal(b) for b in self.blocks("overlap")] if self.spinful else self.blocks("overlap")

    def overlap_k(self, kpoints_frac) -> np.ndarray:
        """S(k) sized like H(k): S ⊗ I₂ in the same row order when spinful."""
        return bloch_sum_blocks(self.spinor_overlap_blocks(), self.edge_index, self.cell_shifts,
                                self.orbital_offsets(spinor=self.spinful), kpoints_frac)

    def band_solver(self, kind: str = "hamiltonian"):
        """``eigenvalues_at(kpoints_frac) -> (K, n)`` (eV, ascending) of ``kind``, its blocks and S's
        prepared once: H(k) and S(k) share their phases and are built in chunks of k-points of about
        256 MB."""
        size = int(self.orbital_counts.sum()) * self.spin_factor
        width = int(self.orbital_counts.max(initial=1)) * self.spin_factor
        chunk = max(1, int(EIGENVALUE_CHUNK_BYTES // (16 * (2 * size * size + self.num_atoms ** 2 * width * width))))
        sums = BlockSums((self.blocks(kind), self.spinor_overlap_blocks()), self.edge_index, self.cell_shifts,
                         self.orbital_offsets(spinor=self.spinful))

        def eigenvalues_at(kpoints_frac):
            kpoints = np.asarray(kpoints_frac, dtype=np.float64).reshape(-1, 3)
            if not len(kpoints):
                return np.zeros((0, size))
            return np.concatenate([generalized_eigvalsh(*sums(part))
                                   for part in np.split(kpoints, range(chunk, len(kpoints), chunk))])

        return eigenvalues_at

    def eigenvalues(self, kpoints_frac, kind: str = "hamiltonian") -> np.ndarray:
        """Eigenvalues (K, n) in eV of ``kind`` at fractional ``kpoints_frac``, ascending."""
        return self.band_solver(kind)(kpoints_frac)

    @property
    def matrix_rows(self) -> int:
        """Rows of H(k): orbitals, twice that for spinors."""
        return int(np.sum(self.orbital_counts)) * self.spin_factor

    def resolve_solver(self, solver: str = "auto") -> str:
        """``dense`` or ``sparse`` for this record: ``auto`` is sparse above SPARSE_ABOVE_ROWS rows."""
        if check_solver(solver) == "auto":
            return "sparse" if self.matrix_rows > SPARSE_ABOVE_ROWS else "dense"
        return solver

    def occupation(self, kind: str = "hamiltonian", kpoints_frac=None,
                   tolerance_ev: float = DEFAULT_FERMI_TOLERANCE_EV, solver: str = "dense") -> dict:
        """E_F, gap, VBM/CBM of ``kind``'s bands for ``num_electrons``: converged on the k-mesh to
        ``tolerance_ev``, the band edges searched over the mesh, ASE's high-symmetry path and around
        the best of both (:func:`~nextham.kspace.occupation.converged_occupation`, which also returns
        the mesh, the estimated error and where the edges are); or, given ``kpoints_frac``, from those
        k-points alone (:func:`~nextham.kspace.occupation.occupation_summary`). ``solver``: ``sparse``
        (or ``auto`` on a large cell) takes the KPM count and shift-invert Lanczos at Γ or at
        ``kpoints_frac`` instead, with no dense eigensolve (:func:`~nextham.kspace.sparse.sparse_occupation`)."""
        if not np.isfinite(self.num_electrons):
            return converged_occupation(None, self.lattice, self.num_electrons, self.spinful)
        if self.resolve_solver(solver) == "sparse":
            from .kspace.sparse import sparse_occupation

            return sparse_occupation(self, np.zeros((1, 3)) if kpoints_frac is None else kpoints_frac, kind=kind)
        if kpoints_frac is not None:
            return occupation_summary(self.eigenvalues(kpoints_frac, kind), self.num_electrons, self.spinful)
        return converged_occupation(self.band_solver(kind), self.lattice, self.num_electrons, self.spinful,
                                    tolerance_ev)

    # ------------------------------------------------------------------ checks
    def validate(self, basis: BasisSet | None = None, path=None, hermiticity_tolerance: float = 1e-6):
        """Raise a :class:`~nextham.errors.DataError` naming ``path`` and the structure when the
        record is malformed: unknown element or basis mismatch, wrong array sizes, NaN/inf, missing
        on-site blocks or missing/non-Hermitian partners H_ji(−R)."""
        where = {"path": path, "structure": self.label}
        if basis is not None:
            expected = basis.orbital_counts(self.atomic_numbers)  # raises UnknownElementError
            if not np.array_equal(expected, self.orbital_counts):
                bad = int(np.flatnonzero(expected != self.orbital_counts)[0])
                raise BasisMismatchError(
                    f"atom {bad} ({element_symbol(self.atomic_numbers[bad])}) has {self.orbital_counts[bad]} "
                    f"orbitals but the basis {basis.for_atomic_number(self.atomic_numbers[bad]).describe()} "
                    f"has {expected[bad]}", **where)
        if len(self.orbital_counts) != self.num_atoms or len(self.positions) != self.num_atoms:
            raise CorruptShardError("atom arrays have different lengths", **where)
        if len(self.cell_shifts) != self.num_edges:
            raise CorruptShardError("edge_index and cell_shifts have different lengths", **where)
        if self.num_edges and (self.edge_index.min() < 0 or self.edge_index.max() >= self.num_atoms):
            raise CorruptShardError("edge_index refers to atoms that do not exist", **where)
        for kind in self.matrix_kinds:
            flat = getattr(self, kind)
            expected_size = self.block_offsets(kind)[-1]
            if flat.size != expected_size:
                raise BasisMismatchError(
                    f"{kind} holds {flat.size} entries, the basis and edges imply {expected_size}", **where)
            finite = np.isfinite(flat)
            if not finite.all():
                first = int(np.flatnonzero(~finite)[0])
                edge = int(np.searchsorted(self.block_offsets(kind), first, side="right") - 1)
                i, j = self.edge_index[edge]
                raise NonFiniteBlockError(
                    f"{kind} block of edge {edge} (i={i}, j={j}, R={self.cell_shifts[edge].tolist()}) "
                    f"contains NaN or inf", **where)
        onsite = (self.edge_index[:, 0] == self.edge_index[:, 1]) & (self.cell_shifts == 0).all(axis=1)
        missing = sorted(set(range(self.num_atoms)) - set(self.edge_index[onsite, 0].tolist()))
        if missing:
            raise MissingBlockError(f"on-site block of atom {missing[0]} is missing", **where)
        partners = self.partner_index()
        blocks = {kind: self.blocks(kind) for kind in self.matrix_kinds}
        for e, partner in enumerate(partners):
            (i, j), shift = self.edge_index[e].tolist(), self.cell_shifts[e].tolist()
            if partner < 0:
                raise MissingBlockError(
                    f"block (i={i}, j={j}, R={shift}) has no Hermitian partner (i={j}, j={i}, R={[-s for s in shift]})",
                    **where)
            for kind in self.matrix_kinds:
                deviation = np.abs(blocks[kind][e] - blocks[kind][partner].conj().T).max(initial=0.0)
                if deviation > hermiticity_tolerance:
                    raise CorruptShardError(
                        f"{kind} is not Hermitian: |H_ij(R) - H_ji(-R)^†| = {deviation:.3g} eV "
                        f"for (i={i}, j={j}, R={shift})", **where)
        return self


def check_eigenvalues(record: HamiltonianRecord) -> float | None:
    """max |eig(H(T)(k), S(k)) − ε_DFT(k)| over the record's reference k-points, in eV; None when the
    record holds no reference eigenvalues (imported data): there is nothing to compare, not a pass."""
    if not len(record.reference_kpoints):
        return None
    computed = record.eigenvalues(record.reference_kpoints)
    return float(np.abs(computed - np.sort(record.reference_eigenvalues, axis=1)).max())
