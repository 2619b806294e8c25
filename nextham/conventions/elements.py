"""Chemical elements: symbols and atomic numbers (up to U)."""
from __future__ import annotations

from ..errors import UnknownElementError

ELEMENT_SYMBOLS = (
    "X H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se "
    "Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy "
    "Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U"
).split()
ATOMIC_NUMBERS = {symbol: z for z, symbol in enumerate(ELEMENT_SYMBOLS)}


def atomic_number(symbol: str) -> int:
    try:
        return ATOMIC_NUMBERS[symbol]
    except KeyError:
        raise UnknownElementError(f"unknown chemical element {symbol!r}") from None


def element_symbol(z: int) -> str:
    if not 0 < int(z) < len(ELEMENT_SYMBOLS):
        raise UnknownElementError(f"unknown atomic number {z}")
    return ELEMENT_SYMBOLS[int(z)]
