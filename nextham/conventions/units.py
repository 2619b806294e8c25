"""Physical constants and unit conversions.

Everything stored or computed inside nextham is in eV and Å. Values arriving from a DFT engine in
atomic units (Hartree, Bohr) or Rydberg are converted once, at the boundary, with these factors.
CODATA 2018 values.
"""

HARTREE_TO_EV = 27.211386245988
RYDBERG_TO_EV = HARTREE_TO_EV / 2.0
BOHR_TO_ANGSTROM = 0.529177210903
ANGSTROM_TO_BOHR = 1.0 / BOHR_TO_ANGSTROM
EV_TO_MEV = 1000.0


def hartree_to_ev(value):
    return value * HARTREE_TO_EV


def ev_to_hartree(value):
    return value / HARTREE_TO_EV


def bohr_to_angstrom(value):
    return value * BOHR_TO_ANGSTROM


def angstrom_to_bohr(value):
    return value * ANGSTROM_TO_BOHR
