"""Conventions every other part of nextham shares: units, elements, basis sets, the orbital orders of
the DFT codes (PySCF, OpenMX, ABACUS), the spinor block layout, and rotations of orbitals (real Wigner
D matrices and SU(2)). Nothing here depends on the rest of the package."""
from . import units
from .basis import SHELL_LETTERS, BasisSet, ElementBasis, block_diagonal_over_shells
from .elements import ATOMIC_NUMBERS, ELEMENT_SYMBOLS, atomic_number, element_symbol
from .orbital_orders import ORDER_CONVENTIONS, convert_block, orbital_transform, shell_transform
from .rotations import (E3NN_FROM_XYZ, orbital_rotation, real_spherical_harmonics, rotate_block, su2_from_rotation,
                        to_e3nn_frame, wigner_D)
from .spin import spin_block_slices, spin_diagonal, spin_scalar_part

__all__ = ["units", "SHELL_LETTERS", "BasisSet", "ElementBasis", "block_diagonal_over_shells", "ATOMIC_NUMBERS",
           "ELEMENT_SYMBOLS", "atomic_number", "element_symbol", "ORDER_CONVENTIONS", "convert_block",
           "orbital_transform", "shell_transform", "E3NN_FROM_XYZ", "orbital_rotation", "real_spherical_harmonics",
           "rotate_block", "su2_from_rotation", "to_e3nn_frame", "wigner_D", "spin_block_slices", "spin_diagonal",
           "spin_scalar_part"]
