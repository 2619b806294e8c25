"""The local potential of a density on the cell's mesh, as the engine defines it:
V = V_H[ρ + ρ_ps] + V_xc[ρ] + c, where ρ_ps are the Gaussian pseudo-charges whose Coulomb
potential is the GTH local part −Z erf(r/√2 r_loc)/r, and c = Σ_a 2π Z_a r_loc,a² / Ω is the
engine's G = 0 convention for the neutral combination. Poisson and gradients by FFT (torch)."""
from __future__ import annotations

import math

import numpy as np
import torch


# libxc is called on this many mesh points at a time: its inputs and outputs for the whole mesh of a
# 10,000-atom cell (124M points) would be nine more float64 arrays of 1 GB each
XC_CHUNK_POINTS = 1 << 22


class ReciprocalMesh:
    """The G vectors of a mesh in FFT order, kept as three per-axis factors: one Cartesian component, or
    |G|², is made when it is used, never the [n1, n2, n3, 3] array (3 GB at 10,000 atoms). The full
    complex spectrum, not rfftn's half: on an even axis the real part of the inverse transform is the
    engine's convention for the Nyquist plane, which a half spectrum would change (by 1e-4 of the
    potential on a coarse test mesh)."""

    def __init__(self, lattice, mesh, device, dtype=torch.float64):
        self.mesh = tuple(int(n) for n in mesh)
        self.recip = torch.as_tensor(2 * np.pi * np.linalg.inv(np.asarray(lattice, dtype=np.float64)).T,
                                     dtype=dtype, device=device)
        n1, n2, n3 = self.mesh
        self.integers = (torch.fft.fftfreq(n1, 1.0 / n1, dtype=dtype, device=device)[:, None, None],
                         torch.fft.fftfreq(n2, 1.0 / n2, dtype=dtype, device=device)[None, :, None],
                         torch.fft.fftfreq(n3, 1.0 / n3, dtype=dtype, device=device)[None, None, :])

    def component(self, axis: int) -> torch.Tensor:
        """G_axis over the mesh (Bohr⁻¹)."""
        m1, m2, m3 = self.integers
        return m1 * self.recip[0, axis] + m2 * self.recip[1, axis] + m3 * self.recip[2, axis]

    def squared(self) -> torch.Tensor:
        total = self.component(0) ** 2
        for axis in (1, 2):
            total += self.component(axis) ** 2
        return total

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        return torch.fft.fftn(values)

    def inverse(self, coefficients: torch.Tensor) -> torch.Tensor:
        """The real part of the inverse transform, in its own storage (a view would keep the complex
        array, twice the size, alive)."""
        return torch.fft.ifftn(coefficients).real.clone()


def gradient(values: torch.Tensor, reciprocal: ReciprocalMesh) -> torch.Tensor:
    """Spectral ∇ of a periodic function on the mesh: [3, n1, n2, n3]."""
    transformed = reciprocal.forward(values)
    out = torch.empty((3, *values.shape), dtype=values.dtype, device=values.device)
    for axis in range(3):
        out[axis] = reciprocal.inverse(1j * reciprocal.component(axis) * transformed)
    return out


def divergence(fields: torch.Tensor, reciprocal: ReciprocalMesh) -> torch.Tensor:
    total = 1j * reciprocal.component(0) * reciprocal.forward(fields[0])
    for axis in (1, 2):
        total += 1j * reciprocal.component(axis) * reciprocal.forward(fields[axis])
    return reciprocal.inverse(total)


def hartree(charge: torch.Tensor, reciprocal: ReciprocalMesh) -> torch.Tensor:
    """V(r) = Σ_{G≠0} 4π ρ(G)/G² e^{iGr} for a periodic charge (electrons positive)."""
    coefficients = reciprocal.forward(charge)
    g2 = reciprocal.squared()
    g2[0, 0, 0] = math.inf  # the G = 0 term is the engine's constant, added by local_potential
    coefficients *= 4 * math.pi / g2
    del g2
    return reciprocal.inverse(coefficients)


def exchange_correlation(xc: str, rho: torch.Tensor, reciprocal: ReciprocalMesh) -> torch.Tensor:
    """V_xc(r) on the mesh for an LDA or GGA functional (libxc through PySCF, XC_CHUNK_POINTS at a time)."""
    from pyscf.dft import numint

    ni = numint.NumInt()
    xctype = ni._xc_type(xc)
    if xctype not in ("LDA", "GGA"):
        raise NotImplementedError(f"the real-space builder supports LDA and GGA functionals, not {xc} ({xctype})")
    shape = rho.shape
    flat_rho = rho.reshape(-1).cpu().numpy()
    if xctype == "LDA":
        vxc = np.empty_like(flat_rho)
        for start in range(0, len(flat_rho), XC_CHUNK_POINTS):
            part = slice(start, start + XC_CHUNK_POINTS)
            vxc[part] = np.asarray(ni.eval_xc_eff(xc, flat_rho[part], deriv=1, xctype="LDA")[1]).reshape(-1)
        return torch.as_tensor(vxc.reshape(shape), device=rho.device)
    grad = gradient(rho, reciprocal).reshape(3, -1).cpu().numpy()
    vxc = np.empty((4, len(flat_rho)))
    for start in range(0, len(flat_rho), XC_CHUNK_POINTS):
        part = slice(start, start + XC_CHUNK_POINTS)
        stacked = np.concatenate([flat_rho[None, part], grad[:, part]])
        vxc[:, part] = np.asarray(ni.eval_xc_eff(xc, stacked, deriv=1, xctype="GGA")[1]).reshape(4, -1)
    del grad
    vxc = torch.as_tensor(vxc, device=rho.device).reshape(4, *shape)
    potential = divergence(vxc[1:4], reciprocal)
    torch.sub(vxc[0], potential, out=potential)
    return potential


def local_potential(rho: torch.Tensor, pseudo_charge: torch.Tensor, constant: float, lattice, xc: str) -> torch.Tensor:
    """V(r) on the mesh ([n1, n2, n3] tensors in, Hartree out)."""
    reciprocal = ReciprocalMesh(lattice, rho.shape, rho.device)
    potential = exchange_correlation(xc, rho, reciprocal)
    potential += hartree(rho + pseudo_charge, reciprocal)
    potential += constant
    return potential


def pseudo_charge_density(lattice, mesh, positions, charges, widths, device) -> torch.Tensor:
    """The Gaussian pseudo-charges −Z (2π r_loc²)^(-3/2) exp(−r²/2r_loc²) of every atom and image on the
    mesh ([n1, n2, n3], electrons positive) as their Fourier series over the mesh's G vectors, with the
    analytic coefficients −Z exp(−G² r_loc²/2) e^{−iG·τ}/Ω of the engine's long-range GTH part: sampled
    point by point, the narrow Gaussians alias onto the mesh (Na's r_loc is 0.18 Bohr)."""
    lattice = np.asarray(lattice, dtype=np.float64)
    reciprocal = ReciprocalMesh(lattice, mesh, device)
    g2 = reciprocal.squared()
    fractional = np.asarray(positions, dtype=np.float64) @ np.linalg.inv(lattice)
    coefficients = torch.zeros(tuple(mesh), dtype=torch.complex128, device=device)
    species = {}  # atoms of one charge and width share their Gaussian: Σ_a e^{−iG·τ_a} first
    for index, (charge, width) in enumerate(zip(charges, widths)):
        species.setdefault((float(charge), float(width)), []).append(index)
    for (charge, width), atoms in species.items():
        factor = structure_factor(fractional[atoms], mesh, device)
        factor *= torch.exp(-0.5 * g2 * width ** 2) * -charge
        coefficients += factor
        del factor
    del g2
    coefficients *= np.prod(mesh) / abs(np.linalg.det(lattice))
    return reciprocal.inverse(coefficients)


def structure_factor(fractional, mesh, device, chunk: int = 256) -> torch.Tensor:
    """Σ_a e^{−iG·τ_a} over the mesh's G vectors in FFT order ([n1, n2, n3], complex).

    e^{−iG·τ} = Π_k e^{−2πi m_k f_k} factorises per axis, so the sum is one matrix product of the
    first axis' factors with the other two axes' outer products: atoms × points multiply-adds in a
    GEMM, ``chunk`` atoms at a time (the outer products of a chunk take chunk × n2 × n3 numbers)."""
    fractional = np.asarray(fractional, dtype=np.float64).reshape(-1, 3)
    n1, n2, n3 = (int(n) for n in mesh)
    out = torch.zeros((n1, n2 * n3), dtype=torch.complex128, device=device)
    integers = [torch.fft.fftfreq(n, 1.0 / n, dtype=torch.float64, device=device) for n in (n1, n2, n3)]
    for start in range(0, len(fractional), chunk):
        f = torch.as_tensor(fractional[start:start + chunk], device=device)
        e1, e2, e3 = (torch.exp(-2j * math.pi * f[:, k, None] * integers[k][None, :]) for k in range(3))
        out += e1.T @ (e2[:, :, None] * e3[:, None, :]).reshape(len(f), n2 * n3)
    return out.reshape(n1, n2, n3)
