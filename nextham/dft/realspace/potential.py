"""The local potential of a density on the cell's mesh, as the engine defines it:
V = V_H[ρ + ρ_ps] + V_xc[ρ] + c, where ρ_ps are the Gaussian pseudo-charges whose Coulomb
potential is the GTH local part −Z erf(r/√2 r_loc)/r, and c = Σ_a 2π Z_a r_loc,a² / Ω is the
engine's G = 0 convention for the neutral combination. Poisson and gradients by FFT (torch)."""
from __future__ import annotations

import math

import numpy as np
import torch


def reciprocal_vectors(lattice, mesh, device, dtype=torch.float64):
    """G vectors of the mesh in FFT order, [n1, n2, n3, 3] (Bohr⁻¹)."""
    recip = 2 * np.pi * np.linalg.inv(np.asarray(lattice)).T
    freqs = [torch.fft.fftfreq(n, 1.0 / n, dtype=dtype, device=device) for n in mesh]
    grid = torch.stack(torch.meshgrid(*freqs, indexing="ij"), -1)
    return grid @ torch.as_tensor(recip, dtype=dtype, device=device)


def gradient(values: torch.Tensor, gvectors: torch.Tensor) -> torch.Tensor:
    """Spectral ∇ of a periodic function on the mesh: [3, n1, n2, n3]."""
    transformed = torch.fft.fftn(values)
    return torch.stack([torch.fft.ifftn(1j * gvectors[..., x] * transformed).real for x in range(3)])


def divergence(fields: torch.Tensor, gvectors: torch.Tensor) -> torch.Tensor:
    total = sum(1j * gvectors[..., x] * torch.fft.fftn(fields[x]) for x in range(3))
    return torch.fft.ifftn(total).real


def hartree(charge: torch.Tensor, gvectors: torch.Tensor) -> torch.Tensor:
    """V(r) = Σ_{G≠0} 4π ρ(G)/G² e^{iGr} for a periodic charge (electrons positive)."""
    g2 = (gvectors * gvectors).sum(-1)
    coulomb = torch.where(g2 > 0, 4 * math.pi / torch.where(g2 > 0, g2, torch.ones_like(g2)), torch.zeros_like(g2))
    return torch.fft.ifftn(coulomb * torch.fft.fftn(charge)).real


def exchange_correlation(xc: str, rho: torch.Tensor, gvectors: torch.Tensor) -> torch.Tensor:
    """V_xc(r) on the mesh for an LDA or GGA functional (libxc through PySCF)."""
    from pyscf.dft import numint

    ni = numint.NumInt()
    xctype = ni._xc_type(xc)
    if xctype not in ("LDA", "GGA"):
        raise NotImplementedError(f"the real-space builder supports LDA and GGA functionals, not {xc} ({xctype})")
    shape = rho.shape
    if xctype == "LDA":
        vxc = ni.eval_xc_eff(xc, rho.reshape(-1).cpu().numpy(), deriv=1, xctype="LDA")[1]
        return torch.as_tensor(np.asarray(vxc).reshape(shape), device=rho.device)
    grad = gradient(rho, gvectors)
    stacked = torch.cat([rho[None], grad]).reshape(4, -1).cpu().numpy()
    vxc = torch.as_tensor(np.asarray(ni.eval_xc_eff(xc, stacked, deriv=1, xctype="GGA")[1]), device=rho.device)
    vxc = vxc.reshape(4, *shape)
    return vxc[0] - divergence(vxc[1:4], gvectors)


def local_potential(rho: torch.Tensor, pseudo_charge: torch.Tensor, constant: float, lattice, xc: str) -> torch.Tensor:
    """V(r) on the mesh ([n1, n2, n3] tensors in, Hartree out)."""
    gvectors = reciprocal_vectors(lattice, rho.shape, rho.device)
    return hartree(rho + pseudo_charge, gvectors) + exchange_correlation(xc, rho, gvectors) + constant


def pseudo_charge_density(lattice, mesh, positions, charges, widths, device) -> torch.Tensor:
    """The Gaussian pseudo-charges −Z (2π r_loc²)^(-3/2) exp(−r²/2r_loc²) of every atom and image on the
    mesh ([n1, n2, n3], electrons positive) as their Fourier series over the mesh's G vectors, with the
    analytic coefficients −Z exp(−G² r_loc²/2) e^{−iG·τ}/Ω of the engine's long-range GTH part: sampled
    point by point, the narrow Gaussians alias onto the mesh (Na's r_loc is 0.18 Bohr)."""
    lattice = np.asarray(lattice, dtype=np.float64)
    g2 = (reciprocal_vectors(lattice, mesh, device) ** 2).sum(-1)
    fractional = np.asarray(positions, dtype=np.float64) @ np.linalg.inv(lattice)
    coefficients = torch.zeros(tuple(mesh), dtype=torch.complex128, device=device)
    species = {}  # atoms of one charge and width share their Gaussian: Σ_a e^{−iG·τ_a} first
    for index, (charge, width) in enumerate(zip(charges, widths)):
        species.setdefault((float(charge), float(width)), []).append(index)
    for (charge, width), atoms in species.items():
        coefficients += -charge * torch.exp(-0.5 * g2 * width ** 2) * structure_factor(fractional[atoms], mesh, device)
    return torch.fft.ifftn(coefficients * (np.prod(mesh) / abs(np.linalg.det(lattice)))).real


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
