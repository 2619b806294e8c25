"""nextham: deep-learning prediction of Kohn–Sham Hamiltonians of crystals.

The network learns the correction ΔH = H(T) − H(0) between the converged Hamiltonian H(T) and
the zeroth-step Hamiltonian H(0) built from superposed neutral-atom densities.

Inside the package energies are in eV and lengths in Å; orbitals inside a shell are real
spherical harmonics ordered m = −l … l (see :mod:`nextham.conventions`).
"""

__version__ = "0.1.0"
