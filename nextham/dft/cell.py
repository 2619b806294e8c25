"""The PySCF cell of a structure and the basis each element gets: GTH pseudopotentials with the
matching q-suffixed MOLOPT basis, or for spin–orbit coupling Stuttgart–Dirac SO-ECPs with a pruned
molecular basis; the basis family's orbital-layout slots; the SCF and Fourier k-meshes."""
from __future__ import annotations

import numpy as np

from ..conventions import ElementBasis
from ..conventions.elements import ELEMENT_SYMBOLS
from ..errors import UnknownElementError
from ..kspace import mesh_for_length
from ..structures import StructureSpec
from .engine_settings import PySCFSettings


def _gth_valence(pseudo_family, symbol):
    from pyscf.pbc.gto import pseudo

    try:
        data = pseudo.load(pseudo_family, symbol)
    except Exception:
        raise UnknownElementError(f"element {symbol} has no {pseudo_family} pseudopotential in PySCF") from None
    return int(sum(data[0]))


def _pruned_molecular_basis(symbol, name, min_exponent, max_radial_per_l):
    """Molecular basis without diffuse shells (they make S(k) near-singular in a crystal) and with at
    most ``max_radial_per_l[l]`` radial functions per l (first contraction column of each shell;
    an l missing from the mapping is dropped)."""
    if isinstance(max_radial_per_l, int):
        max_radial_per_l = {l: max_radial_per_l for l in range(8)}
    max_radial_per_l = {int(l): int(n) for l, n in max_radial_per_l.items()}
    from pyscf import gto as molgto

    try:
        shells = molgto.basis.load(name, symbol)
    except Exception:
        raise UnknownElementError(f"element {symbol} has no basis {name!r} in PySCF") from None
    kept, per_l = [], {}
    for shell in shells:
        l, primitives = shell[0], shell[1:]
        if isinstance(primitives[0], (int, float)):  # kappa entry
            primitives = primitives[1:]
        if min(p[0] for p in primitives) <= min_exponent or per_l.get(l, 0) >= max_radial_per_l.get(l, 0):
            continue
        per_l[l] = per_l.get(l, 0) + 1
        kept.append([l] + [[p[0], p[1]] for p in primitives])
    if not kept:
        raise UnknownElementError(f"element {symbol}: no shell of {name!r} survives pruning")
    return kept


def _valence(symbol: str, settings: PySCFSettings) -> int:
    """GTH valence (the q of basis and pseudopotential names): the recipe's choice, else the family's first."""
    return int(settings.valence[symbol]) if symbol in settings.valence else _gth_valence(settings.pseudo, symbol)


def _soc_basis_name(symbol: str, settings: PySCFSettings) -> str:
    return (f"{settings.soc.basis[symbol]} (exponents > {settings.soc.min_exponent}, "
            f"radial functions per l <= {settings.soc.max_radial_per_l})")


def element_basis(symbol: str, settings: PySCFSettings, soc: bool = False) -> ElementBasis:
    """The basis the engine gives ``symbol`` (its shells in storage order), without building a cell."""
    if soc:
        if symbol not in settings.soc.basis or symbol not in settings.soc.ecp:
            raise UnknownElementError(f"no SOC basis/ECP configured for {symbol} (engine.soc.basis / engine.soc.ecp)")
        shells = _pruned_molecular_basis(symbol, settings.soc.basis[symbol], settings.soc.min_exponent,
                                         settings.soc.max_radial_per_l)
        name, pseudopotential = _soc_basis_name(symbol, settings), settings.soc.ecp[symbol]
    else:
        from pyscf.pbc.gto import basis as pbc_basis

        valence = _valence(symbol, settings)
        name, pseudopotential = f"{settings.basis}-q{valence}", f"{settings.pseudo}-q{valence}"
        try:
            shells = pbc_basis.load(name, symbol)
        except Exception:
            raise UnknownElementError(f"element {symbol} has no basis {name} in PySCF") from None
    ls = []
    for shell in shells:  # [l, (kappa,) [exponent, c_1, c_2, ...], ...]: one radial function per column
        primitives = [p for p in shell[1:] if not isinstance(p, (int, float))]
        ls += [int(shell[0])] * (len(primitives[0]) - 1)
    return ElementBasis(symbol, tuple(ls), name=name, pseudopotential=pseudopotential)


def family_layout_slots(settings: PySCFSettings, max_l: int = 2) -> list:
    """The orbital-layout slots of the engine's basis family: enough for every element that has the
    family's basis and pseudopotential (and for the spin–orbit elements configured), up to angular
    momentum ``max_l`` (the f-shells of the lanthanides are left out: they would raise the network's
    irreps to l = 6 for every element). A model trained with these slots predicts any element that fits."""
    from pyscf.pbc.gto import pseudo

    from ..conventions.basis import slots_for

    shell_lists = []
    for symbol in ELEMENT_SYMBOLS[1:]:
        try:
            pseudo.load(settings.pseudo, symbol)
            shell_lists.append(element_basis(symbol, settings).shells)
        except Exception:  # no pseudopotential or no basis of the family for this element
            continue
    for symbol in settings.soc.basis:
        shell_lists.append(element_basis(symbol, settings, soc=True).shells)
    return [slot for slot in slots_for(shell_lists) if slot[0] <= max_l]


def build_cell(spec: StructureSpec, settings: PySCFSettings):
    """PySCF cell plus the per-element basis description used for the stored blocks."""
    from pyscf.pbc import gto

    symbols = sorted(set(spec.symbols))
    atom = [(s, tuple(p)) for s, p in zip(spec.symbols, spec.positions)]
    if spec.soc:
        missing = [s for s in symbols if s not in settings.soc.basis or s not in settings.soc.ecp]
        if missing:
            raise UnknownElementError(
                f"structure {spec.label!r}: no SOC basis/ECP configured for {missing} "
                f"(engine.soc.basis / engine.soc.ecp)")
        basis = {s: _pruned_molecular_basis(s, settings.soc.basis[s], settings.soc.min_exponent,
                                            settings.soc.max_radial_per_l) for s in symbols}
        cell = gto.M(atom=atom, unit="A", a=np.asarray(spec.lattice), basis=basis,
                     ecp={s: settings.soc.ecp[s] for s in symbols}, verbose=0, max_memory=8000)
        names = {s: (_soc_basis_name(s, settings), settings.soc.ecp[s]) for s in symbols}
    else:
        valence = {s: _valence(s, settings) for s in symbols}
        basis = {s: f"{settings.basis}-q{valence[s]}" for s in symbols}
        pseudo = {s: f"{settings.pseudo}-q{valence[s]}" for s in symbols}
        for s in symbols:
            try:
                from pyscf.pbc.gto import basis as pbc_basis

                pbc_basis.load(basis[s], s)
            except Exception:
                raise UnknownElementError(f"element {s} has no basis {basis[s]} in PySCF") from None
        cell = gto.M(atom=atom, unit="A", a=np.asarray(spec.lattice), basis=basis, pseudo=pseudo,
                     ke_cutoff=settings.ke_cutoff_hartree, verbose=0, max_memory=8000)
        names = {s: (basis[s], pseudo[s]) for s in symbols}
    element_basis = {}
    for index in range(cell.natm):
        symbol = cell.atom_symbol(index)
        if symbol in element_basis:
            continue
        shells = []
        for shell in range(cell.nbas):
            if cell.bas_atom(shell) == index:
                shells += [cell.bas_angular(shell)] * cell.bas_nctr(shell)
        element_basis[symbol] = ElementBasis(symbol, tuple(shells), name=names[symbol][0],
                                             pseudopotential=names[symbol][1])
    return cell, element_basis


def kpoint_meshes(lattice_angstrom, settings: PySCFSettings) -> tuple:
    """(SCF mesh, dense mesh): the SCF's and the one H(0), H(T), S are evaluated on before the Fourier
    transform (at least the SCF mesh, and long enough to hold ``ft_range_angstrom`` both ways)."""
    scf_mesh = mesh_for_length(lattice_angstrom, settings.scf_kmesh_length_angstrom)
    dense = mesh_for_length(lattice_angstrom, 2 * settings.ft_range_angstrom)
    return scf_mesh, [max(m, n) for m, n in zip(dense, scf_mesh)]
