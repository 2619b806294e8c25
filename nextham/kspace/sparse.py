"""Electronic structure of large cells without dense diagonalisation.

- :func:`sparse_matrices`: H(k) and S(k) as scipy.sparse matrices, assembled from the stored blocks in
  the dense path's row order (atom by atom, spin-major inside an atom when spinful).
- :class:`SparsePencil`: the pencil (H, S) at one k-point with one sparse LU of S. Its operator
  A = S⁻¹H is self-adjoint in the S inner product, so Lanczos in that product gives the spectral
  bounds, and Tr f(A) is the sum of f over the eigenvalues of H c = ε S c.
- :func:`kpm_moments` / :class:`KPMSpectrum`: the kernel polynomial method. Chebyshev moments of the
  scaled A, traced stochastically (or exactly, with unit vectors, for a small matrix), as weights on
  Chebyshev nodes. They give the Gaussian-broadened DOS, the smeared number of electrons below E,
  and E_F for an electron count.
- :func:`eigenvalues_near`: shift-invert Lanczos (ARPACK) on (H − σS)⁻¹S, giving the eigenvalues
  nearest σ to machine precision. The band edges and the bands within a window of E_F come from it.
- :func:`states_below`: the exact number of eigenvalues below σ (Sylvester's law of inertia, from a
  symmetric sparse LU of H − σS).
- :func:`sparse_occupation`: E_F, gap and band edges from the three, what the dense path's
  :func:`~nextham.kspace.occupation.converged_occupation` gives for a small cell.

Cost per k-point: one LU of S and, per moment and probe, one sparse matrix–vector product and one
pair of triangular solves. The moments needed grow as the spectrum's width over the broadening.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr


def _flat_blocks(record, kind: str):
    """(flat values, block shapes, orbital offsets) of ``kind`` sized like the Hamiltonian (S ⊗ I₂ for a
    spinful record's overlap)."""
    spinor = bool(record.spinful)
    if kind == "overlap" and spinor:
        blocks = record.spinor_overlap_blocks()
        flat = np.concatenate([np.asarray(b).ravel() for b in blocks]) if blocks else np.zeros(0)
        shapes = record.block_shapes("hamiltonian")
    else:
        flat, shapes = np.asarray(getattr(record, kind)), record.block_shapes(kind)
    return flat, shapes, record.orbital_offsets(spinor=spinor)


def block_entries(shapes) -> tuple:
    """For every entry of blocks of ``shapes`` ([edges, 2]) concatenated row-major into one flat array:
    (its edge, its row and its column inside the block)."""
    shapes = np.asarray(shapes, dtype=np.int64)
    sizes = shapes.prod(axis=1)
    edge = np.repeat(np.arange(len(sizes)), sizes)
    local = np.arange(int(sizes.sum())) - np.concatenate([[0], np.cumsum(sizes)])[:-1][edge]
    return edge, local // shapes[edge, 1], local % shapes[edge, 1]


def sparse_matrix(record, kind: str, kpoint_frac):
    """``kind``'s Bloch sum M(k) = Σ_R exp(2πi k·R) M(R) at one fractional k-point, as a CSR matrix
    (real at Γ for a spinless record, complex otherwise). Rows are in the dense path's order."""
    from scipy import sparse

    flat, shapes, offsets = _flat_blocks(record, kind)
    edge, row, column = block_entries(shapes)
    rows = offsets[record.edge_index[edge, 0]] + row
    columns = offsets[record.edge_index[edge, 1]] + column
    kpoint = np.asarray(kpoint_frac, dtype=np.float64).reshape(3)
    phase = np.exp(2j * math.pi * (np.asarray(record.cell_shifts, dtype=np.float64) @ kpoint))
    values = flat.astype(np.complex128) * phase[edge]
    if not np.any(kpoint) and not np.iscomplexobj(flat):
        values = values.real
    size = int(offsets[-1])
    return sparse.csr_matrix((values, (rows, columns)), shape=(size, size))  # duplicates (ties) are summed


def sparse_matrices(record, kpoint_frac, kind: str = "hamiltonian"):
    """(H(k), S(k)) of ``record`` at one k-point as CSR matrices of the same size."""
    return sparse_matrix(record, kind, kpoint_frac), sparse_matrix(record, "overlap", kpoint_frac)


# above this many rows the pencil is not factorised: S⁻¹ comes from conjugate gradients (S is positive
# definite and well conditioned, κ ≈ 13 for Si's minimal basis: 41 iterations to 1e-10, memory of S
# only), and the exact inertia counts and shift-invert edges, which need sparse LUs of H − σS, are left
# out. The LUs fill in: at 13,824 rows (3,456 Si atoms, pairs to 10.4 Å) the LU of S alone holds 150M
# entries (1.8 GB, 10× its input) and takes 71 s, and the fill grows as rows^1.85 (4,096 rows: 15.7M),
# so that 42,000 rows (10,000 atoms) would need about 16 GB for S alone
FACTORISE_MAX_ROWS = 20000


class SparsePencil:
    """H c = ε S c at one k-point. ``apply`` is A = S⁻¹H, with S factorised once (SuperLU) when
    ``factorise``, else solved by block conjugate gradients to ``tolerance`` (memory of S only)."""

    def __init__(self, hamiltonian, overlap, factorise: bool = True, tolerance: float = 1e-10):
        self.dtype = np.result_type(hamiltonian.dtype, overlap.dtype)
        self.hamiltonian, self.overlap = hamiltonian.tocsr().astype(self.dtype), overlap.tocsr().astype(self.dtype)
        self.size, self.factorised, self.tolerance = hamiltonian.shape[0], bool(factorise), float(tolerance)
        if self.factorised:
            from scipy.sparse.linalg import splu

            self._overlap_lu = splu(self.overlap.tocsc())

    def solve_overlap(self, right):
        """S⁻¹ ``right`` ((n,) or (n, R))."""
        right = np.asarray(right, dtype=self.dtype)
        if self.factorised:
            return self._overlap_lu.solve(right)
        return block_conjugate_gradients(self.overlap, right, self.tolerance)

    def apply(self, vectors):
        return self.solve_overlap(self.hamiltonian @ vectors)

    def bounds(self, steps: int = 60, seed: int = 0) -> tuple:
        """(lowest, highest) eigenvalue estimates from Lanczos on A in the S inner product, widened by
        the last Ritz residuals and 1 % of the width, so the whole spectrum lies inside."""
        rng = np.random.default_rng(seed)
        vector = rng.standard_normal(self.size).astype(self.dtype)
        vector /= math.sqrt(abs(np.vdot(vector, self.overlap @ vector)))
        previous, beta = np.zeros_like(vector), 0.0
        alphas, betas = [], []
        for _ in range(min(steps, self.size)):
            w = self.apply(vector)
            alpha = np.vdot(vector, self.overlap @ w).real
            w = w - alpha * vector - beta * previous
            beta_next = math.sqrt(max(np.vdot(w, self.overlap @ w).real, 0.0))
            alphas.append(alpha)
            if beta_next < 1e-10 * (abs(alpha) + 1.0):
                break
            betas.append(beta_next)
            previous, vector, beta = vector, w / beta_next, beta_next
        tridiagonal = np.diag(alphas) + np.diag(betas[:len(alphas) - 1], 1) + np.diag(betas[:len(alphas) - 1], -1)
        ritz, ritz_vectors = np.linalg.eigh(tridiagonal)
        residual = betas[len(alphas) - 1] * np.abs(ritz_vectors[-1]) if len(betas) >= len(alphas) else \
            np.zeros(len(alphas))
        low, high = ritz[0] - residual[0], ritz[-1] + residual[-1]
        margin = 0.01 * (high - low) + 1e-6
        return low - margin, high + margin


def block_conjugate_gradients(matrix, right, tolerance: float = 1e-10, max_iterations: int = 1000):
    """X with ``matrix`` X = ``right`` for a Hermitian positive definite sparse ``matrix``: conjugate
    gradients on every column at once (one sparse product per step for all of them), each column to
    ‖r‖ ≤ ``tolerance`` ‖b‖. Raises when a column has not converged in ``max_iterations``."""
    single = right.ndim == 1
    right = right[:, None] if single else right
    solution = np.zeros_like(right)
    residual = right.copy()
    direction = residual.copy()
    norms = np.einsum("ij,ij->j", right.conj(), right).real
    goal = tolerance ** 2 * np.maximum(norms, np.finfo(float).tiny)
    rho = norms.copy()
    for _ in range(max_iterations):
        active = rho > goal
        if not active.any():
            return solution[:, 0] if single else solution
        product = matrix @ direction
        curvature = np.einsum("ij,ij->j", direction.conj(), product).real
        step = np.where(active, rho / np.where(active, curvature, 1.0), 0.0)
        solution += direction * step
        residual -= product * step
        rho_next = np.einsum("ij,ij->j", residual.conj(), residual).real
        direction = residual + direction * np.where(active, rho_next / np.where(active, rho, 1.0), 0.0)
        rho = rho_next
    raise RuntimeError(f"conjugate gradients on S did not reach {tolerance:g} in {max_iterations} steps; "
                       "the overlap is near singular (a basis too diffuse for the cell)")


def kpm_moments(pencil: SparsePencil, moments: int, vectors: int | None = None, seed: int = 0,
                bounds: tuple | None = None) -> tuple:
    """Chebyshev moments r†T_n(Ã)r of the scaled operator Ã = (A − b)/a for each probe r, and (a, b).

    ``vectors``: random phase probes of the stochastic trace (E[r†Mr] = Tr M); None probes with every
    unit vector, which traces exactly (for a small matrix, as the tests do). Returns (samples (M, R),
    a, b); the trace is ``samples.sum(1)`` exactly or ``samples.mean(1)`` stochastically."""
    low, high = bounds or pencil.bounds(seed=seed)
    half, centre = (high - low) / 2.0, (high + low) / 2.0
    if vectors is None:
        probes = np.eye(pencil.size, dtype=pencil.dtype)
    else:
        rng = np.random.default_rng(seed)
        angles = rng.uniform(0.0, 2 * math.pi, size=(pencil.size, vectors))
        probes = (np.exp(1j * angles) if np.dtype(pencil.dtype).kind == "c" else np.sign(np.cos(angles)))
        probes = probes.astype(pencil.dtype)
    scaled = lambda x: (pencil.apply(x) - centre * x) / half
    samples = np.zeros((moments, probes.shape[1]))
    previous, current = probes, scaled(probes)
    samples[0] = np.einsum("ij,ij->j", probes.conj(), previous).real
    if moments > 1:
        samples[1] = np.einsum("ij,ij->j", probes.conj(), current).real
    for n in range(2, moments):
        previous, current = current, 2.0 * scaled(current) - previous
        samples[n] = np.einsum("ij,ij->j", probes.conj(), current).real
    return samples, half, centre


def moments_for_width(half_width_ev: float, width_ev: float, minimum: int = 64) -> int:
    """Moments that resolve a Gaussian of ``width_ev`` on a spectrum of half-width ``half_width_ev``:
    its Chebyshev series has then decayed below 1e-6 of its leading term."""
    return max(minimum, int(math.ceil(5.5 * half_width_ev / width_ev)))


@dataclass
class KPMSpectrum:
    """The spectrum of one or more k-points from their Chebyshev moments, as weights on Chebyshev
    nodes: Σ_nodes w f(E_node) = Tr f(A) for any f the series resolves. DOS and electron counts are
    Gaussian-broadened by ``width_ev``, as the dense path's DOS is; E_F of a metal is then that of a
    Gaussian smearing of the same width."""

    node_energies: list    # (K,) per k-point
    node_weights: list     # (K, R) per k-point: one column per probe (R = 1 for an exact trace)
    stochastic: bool
    kweights: np.ndarray
    spin_factor: float     # 2 for spinless states (each holds two electrons), 1 for spinors
    width_ev: float

    @classmethod
    def from_moments(cls, samples, scales, kweights, spin_factor, width_ev, stochastic):
        from scipy.fft import dct

        energies, weights = [], []
        for sample, (half, centre) in zip(samples, scales):
            count = 2 * len(sample)
            theta = math.pi * (np.arange(count) + 0.5) / count  # Chebyshev–Gauss nodes x = cos θ
            padded = np.zeros((count, sample.shape[1]))
            padded[:len(sample)] = sample
            energies.append(half * np.cos(theta) + centre)
            # (μ_0 + 2 Σ_n μ_n cos nθ_k) / K at every node: a DCT-III of the moments, (K, R)
            weights.append(dct(padded, type=3, axis=0) / count)
        return cls(energies, weights, stochastic, np.asarray(kweights, dtype=np.float64), spin_factor, width_ev)

    def _sum(self, kernel, energies):
        """spin × Σ_k w_k Σ_nodes weight · kernel(E − E_node), per probe column: (E, R)."""
        energies = np.atleast_1d(np.asarray(energies, dtype=np.float64))
        total = 0.0
        for node_energies, weights, kweight in zip(self.node_energies, self.node_weights, self.kweights):
            total = total + kweight * kernel(energies[:, None] - node_energies[None]) @ weights
        return self.spin_factor * total

    def _trace(self, columns):
        return columns.mean(axis=1) if self.stochastic else columns.sum(axis=1)

    def dos(self, energies) -> np.ndarray:
        """States per eV per cell, spin included, at ``energies``."""
        width = self.width_ev
        gaussian = lambda d: np.exp(-0.5 * (d / width) ** 2) / (width * math.sqrt(2 * math.pi))
        return self._trace(self._sum(gaussian, energies))

    def count(self, energies, with_error: bool = False):
        """Electrons per cell in the states below ``energies`` (Gaussian-smeared, spin included); with
        ``with_error`` also the standard error of the stochastic trace (zero for an exact one)."""
        columns = self._sum(lambda d: ndtr(d / self.width_ev), energies)
        counted = self._trace(columns)
        error = columns.std(axis=1, ddof=1) / math.sqrt(columns.shape[1]) if self.stochastic and columns.shape[1] > 1 \
            else np.zeros(len(counted))
        if np.ndim(energies) == 0:
            counted, error = float(counted[0]), float(error[0])
        return (counted, error) if with_error else counted

    def fermi_level(self, num_electrons: float, tolerance_ev: float = 1e-5) -> float:
        """E_F where the smeared count equals ``num_electrons`` (bisection)."""
        low = min(e.min() for e in self.node_energies) - 10 * self.width_ev
        high = max(e.max() for e in self.node_energies) + 10 * self.width_ev
        while high - low > tolerance_ev:
            middle = 0.5 * (low + high)
            low, high = (middle, high) if self.count(middle) < num_electrons else (low, middle)
        return 0.5 * (low + high)


# up to this many rows the trace is taken exactly (every unit vector): its cost grows as rows², its
# noise-free answer is what small cells need
EXACT_TRACE_ROWS = 256


def kpm_spectrum(record, kpoints_frac=((0.0, 0.0, 0.0),), weights=None, width_ev: float = 0.1,
                 vectors: int | None = 16, seed: int = 0, kind: str = "hamiltonian", matrices=None,
                 factorise: bool | None = None) -> KPMSpectrum:
    """:class:`KPMSpectrum` of ``kind`` at ``kpoints_frac`` (default Γ, what a large supercell needs),
    with as many moments as a Gaussian of ``width_ev`` needs on each k-point's spectrum. ``vectors``
    random probes trace it, or every unit vector (exact) below EXACT_TRACE_ROWS rows or with None.
    ``matrices``: the (H(k), S(k)) of those k-points when the caller has them already. ``factorise``: LU
    of S (default up to FACTORISE_MAX_ROWS rows) or conjugate gradients."""
    if vectors is not None and record.matrix_rows <= EXACT_TRACE_ROWS:
        vectors = None
    kpoints = np.asarray(kpoints_frac, dtype=np.float64).reshape(-1, 3)
    weights = np.full(len(kpoints), 1.0 / len(kpoints)) if weights is None else np.asarray(weights, dtype=np.float64)
    samples, scales = [], []
    matrices = matrices or [sparse_matrices(record, kpoint, kind) for kpoint in kpoints]
    for hamiltonian, overlap in matrices:
        pencil = SparsePencil(hamiltonian, overlap, factorise=record.matrix_rows <= FACTORISE_MAX_ROWS
                              if factorise is None else factorise)
        low, high = pencil.bounds(seed=seed)
        for _ in range(4):
            found, half, centre = kpm_moments(pencil, moments_for_width((high - low) / 2, width_ev), vectors, seed,
                                              (low, high))
            # |Tr T_n| ≤ Tr T_0 on the spectrum; a state outside the bounds makes the moments grow
            # exponentially, far past the probes' noise
            trace = found.mean(axis=1)
            if np.abs(trace).max() <= 10.0 * abs(trace[0]):
                break
            low, high = low - 0.2 * (high - low), high + 0.2 * (high - low)
        else:
            raise RuntimeError(f"{record.label}: the Chebyshev moments diverge; the spectral bounds miss a state")
        samples.append(found)
        scales.append((half, centre))
    return KPMSpectrum.from_moments(samples, scales, weights, 1.0 if record.spinful else 2.0, width_ev,
                                    vectors is not None)


def eigenvalues_near(hamiltonian, overlap, sigma: float, count: int = 16) -> np.ndarray:
    """The ``count`` eigenvalues of H c = ε S c nearest ``sigma`` (eV, ascending), by shift-invert Lanczos
    (ARPACK mode 3, one sparse LU of H − σS)."""
    from scipy.linalg import eigh
    from scipy.sparse.linalg import eigsh

    size = hamiltonian.shape[0]
    if count >= size - 1:  # ARPACK needs k < n - 1: the matrix is small enough to solve whole
        values = eigh(hamiltonian.toarray(), overlap.toarray(), eigvals_only=True)
        return np.sort(values[np.argsort(np.abs(values - sigma))[:count]])
    values = eigsh(hamiltonian.tocsc(), k=count, M=overlap.tocsc(), sigma=sigma, which="LM",
                   return_eigenvectors=False)
    return np.sort(values.real)


def eigenvalues_in_window(hamiltonian, overlap, low: float, high: float, start: int = 16) -> np.ndarray:
    """Every eigenvalue in [low, high] (eV): shift-invert about the window's middle, asking for more until
    the farthest one found lies outside the window (the nearest ones then hold all inside it)."""
    size = hamiltonian.shape[0]
    middle, half, count = 0.5 * (low + high), 0.5 * (high - low), start
    while True:
        values = eigenvalues_near(hamiltonian, overlap, middle, count)
        if np.abs(values - middle).max() > half or count >= size - 2:
            return values[(values >= low) & (values <= high)]
        count = min(2 * count, size - 2)


def _quiet_stretches(spectrum: KPMSpectrum, estimate: float, half_window_ev: float = 6.0, ends: bool = False) -> list:
    """Middles (with ``ends``: (low, high) ends) of the stretches within ``half_window_ev`` of ``estimate`` where the broadened DOS is below
    2 % of its peak and which are wider than two widths, nearest first: where a gap can be. There even a
    stochastic trace is quiet (the broadening kernel is nearly zero on every state), while the count,
    and the E_F estimate from it, carry the noise of the whole occupied spectrum."""
    grid = np.linspace(estimate - half_window_ev, estimate + half_window_ev, 2401)
    density = spectrum.dos(grid)
    quiet = density < 0.02 * density.max()
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(int), [0]])))
    stretches = [(grid[first], grid[last]) for first, last in zip(edges[::2], edges[1::2] - 1)
                 if grid[last] - grid[first] > 2 * spectrum.width_ev]
    stretches = sorted(stretches, key=lambda stretch: abs(0.5 * (stretch[0] + stretch[1]) - estimate))
    return stretches if ends else [0.5 * (low + high) for low, high in stretches]


def states_below(hamiltonian, overlap, sigma: float) -> int | None:
    """How many eigenvalues of H c = ε S c lie below σ, exactly (Sylvester's law of inertia): the
    negative pivots of a symmetric LDLᵀ-like factorisation of H − σS (SuperLU in symmetric mode, no
    off-diagonal pivoting). None when SuperLU had to pivot off the diagonal (σ on an eigenvalue)."""
    from scipy.sparse.linalg import splu

    try:
        factor = splu((hamiltonian - sigma * overlap).tocsc(), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                      options={"SymmetricMode": True})
    except RuntimeError:  # exactly singular
        return None
    if not np.array_equal(factor.perm_r, factor.perm_c):
        return None
    return int((factor.U.diagonal().real < 0).sum())


def _edges_about(hamiltonian, overlap, sigma: float, count: int = 16) -> tuple:
    """(highest eigenvalue ≤ σ, lowest > σ), asking for more eigenvalues until both sides hold one."""
    size = hamiltonian.shape[0]
    while True:
        values = eigenvalues_near(hamiltonian, overlap, sigma, count)
        below, above = values[values <= sigma], values[values > sigma]
        if (len(below) and len(above)) or count >= size - 2:
            return below.max(initial=-math.inf), above.min(initial=math.inf)
        count = min(4 * count, size - 2)


def sparse_occupation(record, kpoints_frac=((0.0, 0.0, 0.0),), width_ev: float = 0.1, vectors: int | None = 16,
                      seed: int = 0, kind: str = "hamiltonian", spectrum: KPMSpectrum | None = None) -> dict:
    """E_F, gap and band edges of ``kind`` for ``record.num_electrons`` without a dense eigensolve.

    E_F first comes from the KPM count (Gaussian smearing of ``width_ev``). Each stretch about it where
    the broadened DOS is quiet may be the gap: where the states below its middle hold exactly the
    electrons (counted by Sylvester's inertia, :func:`states_below`), shift-invert Lanczos about the
    middle finds the eigenvalues on either side at every k-point, and the cell is an insulator: VBM, CBM
    and E_F at mid-gap are exact eigenvalues.
    Otherwise it is a metal, whose E_F is that of Gaussian smearing of ``width_ev``, exact where the
    inertia count and the eigenvalues about it can give it (:func:`_smeared_fermi_level`), else the
    KPM count's, with its stochastic error.
    Above FACTORISE_MAX_ROWS rows nothing is factorised (:func:`_occupation_from_spectrum`): the KPM
    count and DOS alone decide, and the gap is the DOS's. Returns the keys of
    :func:`~nextham.kspace.occupation.occupation_summary` plus the method's own."""
    kpoints = np.asarray(kpoints_frac, dtype=np.float64).reshape(-1, 3)
    vectors = None if vectors is not None and record.matrix_rows <= EXACT_TRACE_ROWS else vectors
    factorise = record.matrix_rows <= FACTORISE_MAX_ROWS
    matrices = [sparse_matrices(record, kpoint, kind) for kpoint in kpoints]
    spectrum = spectrum or kpm_spectrum(record, kpoints, width_ev=width_ev, vectors=vectors, seed=seed, kind=kind,
                                        matrices=matrices, factorise=factorise)
    electrons = float(record.num_electrons)
    estimate = spectrum.fermi_level(electrons)
    facts = {"fermi_method": "kpm + shift-invert Lanczos", "kmesh": None, "kpoints": kpoints.tolist(),
             "smearing_ev": width_ev, "probes": "exact" if vectors is None else int(vectors)}
    if not factorise:
        return _occupation_from_spectrum(spectrum, estimate, electrons, facts)
    for middle in _quiet_stretches(spectrum, estimate):
        below_gap = [states_below(hamiltonian, overlap, middle) for hamiltonian, overlap in matrices]
        if None in below_gap:
            continue
        if abs(spectrum.spin_factor * float(np.dot(spectrum.kweights, below_gap)) - electrons) > 1e-6:
            continue  # a gap, but not the one the electrons fill up to
        edges = [_edges_about(hamiltonian, overlap, middle) for hamiltonian, overlap in matrices]
        vbm, cbm = max(low for low, _ in edges), min(high for _, high in edges)
        if math.isfinite(vbm) and math.isfinite(cbm) and cbm > vbm:
            return {"fermi_energy": 0.5 * (vbm + cbm), "band_gap": cbm - vbm, "vbm": vbm, "cbm": cbm,
                    "metallic": False, "occupied_bands": int(round(electrons / spectrum.spin_factor)),
                    "fermi_error_ev": 0.0, "fermi_converged": True, **facts}
    fermi, exact = _smeared_fermi_level(matrices, spectrum, estimate, electrons)
    if exact:
        error_ev = 0.0
    else:
        error_ev = _fermi_error_ev(spectrum, estimate)
    return {"fermi_energy": fermi, "band_gap": 0.0, "vbm": math.nan, "cbm": math.nan, "metallic": True,
            "occupied_bands": None, "fermi_error_ev": error_ev, "fermi_converged": exact or error_ev < 0.01,
            "fermi_exact_count": exact, **facts}


def _fermi_error_ev(spectrum: KPMSpectrum, fermi: float) -> float:
    """The stochastic count's standard error at ``fermi`` over the DOS there, in eV."""
    _, error = spectrum.count(fermi, with_error=True)
    density = float(spectrum.dos(fermi)[0])
    return error / density if density > 0 else math.inf


# the broadened DOS of a band edge falls to 2 % of the DOS's peak this many widths inside the gap: on
# the exact edges of Si, SiC, GaAs and MgO (4×4×4 meshes, widths 0.1 and 0.2 eV) 1.6–1.8 widths at the
# valence band maximum, 0.8–2.2 at the conduction band minimum: the edges come out within 0.1 eV at a
# 0.1 eV width there, within 0.15 eV at Γ of 16-atom supercells, whose edges are single levels
DOS_EDGE_WIDTHS = 1.6


def _occupation_from_spectrum(spectrum: KPMSpectrum, estimate: float, electrons: float, facts: dict) -> dict:
    """The occupation of a pencil too large to factorise. A quiet stretch of the DOS (below 2 % of its
    peak, wider than two widths) whose middle holds the electrons within three standard errors of the
    stochastic count (and 1e-6 of an exact one) is the gap: VBM and CBM are its ends moved
    DOS_EDGE_WIDTHS widths outward, E_F its middle. Otherwise a metal with the KPM count's E_F."""
    facts = {**facts, "fermi_method": "kpm (S⁻¹ by conjugate gradients, no factorisation)"}
    for low, high in _quiet_stretches(spectrum, estimate, ends=True):
        middle = 0.5 * (low + high)
        counted, error = spectrum.count(middle, with_error=True)
        if abs(counted - electrons) > max(3.0 * error, 1e-6 * max(electrons, 1.0)):
            continue
        vbm, cbm = low - DOS_EDGE_WIDTHS * spectrum.width_ev, high + DOS_EDGE_WIDTHS * spectrum.width_ev
        return {"fermi_energy": 0.5 * (vbm + cbm), "band_gap": cbm - vbm, "vbm": vbm, "cbm": cbm,
                "metallic": False, "occupied_bands": int(round(electrons / spectrum.spin_factor)),
                "fermi_error_ev": 0.0, "fermi_converged": True,
                "gap_method": f"kpm dos: where it leaves 2 % of its peak, {DOS_EDGE_WIDTHS:g} widths out", **facts}
    error_ev = _fermi_error_ev(spectrum, estimate)
    return {"fermi_energy": estimate, "band_gap": 0.0, "vbm": math.nan, "cbm": math.nan, "metallic": True,
            "occupied_bands": None, "fermi_error_ev": error_ev, "fermi_converged": error_ev < 0.01,
            "fermi_exact_count": False, **facts}


def _smeared_fermi_level(matrices, spectrum: KPMSpectrum, estimate: float, target: float) -> tuple:
    """(E_F, exact): E_F of Gaussian smearing of ``spectrum.width_ev`` for ``target`` electrons, over the
    k-points of ``matrices`` ((H(k), S(k)) each). Exactly,
    where it can be: at every k-point the states below σ (the KPM estimate) are counted by inertia and
    the eigenvalues about σ found by shift-invert until they reach 8 widths past the E_F they give,
    every state below them full and every one above empty. Otherwise the KPM estimate."""
    width, spin = spectrum.width_ev, spectrum.spin_factor
    levels = []  # per k-point: (states below the estimate, H(k), S(k))
    for hamiltonian, overlap in matrices:
        below = states_below(hamiltonian, overlap, estimate)
        if below is None:
            return estimate, False
        levels.append((below, hamiltonian, overlap))
    count = 32
    while True:
        found = []
        for below, hamiltonian, overlap in levels:
            values = eigenvalues_near(hamiltonian, overlap, estimate, count)
            found.append((below - int((values < estimate).sum()), values))
        low = max(values.min() for _, values in found) + 8 * width
        high = min(values.max() for _, values in found) - 8 * width

        def electrons(energy):
            return spin * sum(weight * (full + float(ndtr((energy - values) / width).sum()))
                              for weight, (full, values) in zip(spectrum.kweights, found))

        if low < high and electrons(low) <= target <= electrons(high):
            for _ in range(100):
                middle = 0.5 * (low + high)
                low, high = (middle, high) if electrons(middle) < target else (low, middle)
            return 0.5 * (low + high), True
        if count >= min(hamiltonian.shape[0] - 2, 4096):
            return estimate, False
        count = min(4 * count, hamiltonian.shape[0] - 2)
