"""Fermi level, band gap and occupation from band energies and the valence electron count.

A spinless band holds two electrons, a spinor band one. For an insulator (a gap after the last
occupied band at every k) E_F is put mid-gap, so that tools which count states below E_F (DeepH-dock
among them) see exactly the occupied bands whatever the rounding. :func:`occupation_summary` reads
E_F off given k-points (a metal's as the chemical potential of Fermi–Dirac smearing);
:func:`converged_occupation`, what every reported E_F and gap uses, refines the k-mesh until E_F
stops moving (the tetrahedron method for a metal) and searches the band edges of an insulator over
the mesh, the high-symmetry path and around both.
"""
from __future__ import annotations

import math

import numpy as np

from .tetrahedron import tetrahedron_fermi_level

DEFAULT_SMEARING_EV = 0.025  # kT of the Fermi–Dirac smearing used for metals


def _fermi_dirac(energies, mu, width):
    return 0.5 * (1.0 - np.tanh((energies - mu) / (2.0 * width)))


def occupation_summary(eigenvalues, num_electrons: float, spinful: bool, weights=None,
                       smearing_ev: float = DEFAULT_SMEARING_EV) -> dict:
    """``eigenvalues`` (K, n) in eV on a uniform k-mesh (``weights`` per k, default equal).

    Returns ``fermi_energy`` (eV), ``band_gap`` (eV, 0 for a metal), ``vbm``/``cbm`` (NaN for a metal),
    ``metallic`` and ``occupied_bands``; NaN throughout when the electron count is unknown."""
    eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
    eigenvalues = np.sort(eigenvalues.reshape(-1, eigenvalues.shape[-1]), axis=1) if eigenvalues.size else eigenvalues
    nan = {"fermi_energy": math.nan, "band_gap": math.nan, "vbm": math.nan, "cbm": math.nan, "metallic": None,
           "occupied_bands": None}
    if not math.isfinite(num_electrons) or eigenvalues.size == 0:
        return nan
    per_band = 1.0 if spinful else 2.0
    capacity = per_band * eigenvalues.shape[1]
    if num_electrons > capacity + 1e-9 or num_electrons < 0:
        raise ValueError(f"{num_electrons} electrons do not fit in {eigenvalues.shape[1]} bands "
                         f"({'spinor' if spinful else 'spinless'}, {capacity:g} electrons at most)")
    weights = np.full(len(eigenvalues), 1.0 / len(eigenvalues)) if weights is None \
        else np.asarray(weights, dtype=np.float64) / np.sum(weights)
    filled = num_electrons / per_band
    occupied = int(round(filled))
    if abs(filled - occupied) < 1e-6 and 0 < occupied < eigenvalues.shape[1]:
        vbm, cbm = float(eigenvalues[:, occupied - 1].max()), float(eigenvalues[:, occupied].min())
        if cbm > vbm:
            return {"fermi_energy": 0.5 * (vbm + cbm), "band_gap": cbm - vbm, "vbm": vbm, "cbm": cbm,
                    "metallic": False, "occupied_bands": occupied}
    if abs(filled - occupied) < 1e-6 and occupied == eigenvalues.shape[1]:  # every band full
        top = float(eigenvalues.max())
        return {"fermi_energy": top, "band_gap": math.nan, "vbm": top, "cbm": math.nan, "metallic": False,
                "occupied_bands": occupied}
    low, high = float(eigenvalues.min()) - 10 * smearing_ev - 1.0, float(eigenvalues.max()) + 10 * smearing_ev + 1.0
    count = lambda mu: per_band * float((weights[:, None] * _fermi_dirac(eigenvalues, mu, smearing_ev)).sum())
    for _ in range(200):  # bisection: the count is monotonic in mu
        middle = 0.5 * (low + high)
        low, high = (middle, high) if count(middle) < num_electrons else (low, middle)
        if high - low < 1e-10:
            break
    return {"fermi_energy": 0.5 * (low + high), "band_gap": 0.0, "vbm": math.nan, "cbm": math.nan, "metallic": True,
            "occupied_bands": None}


DEFAULT_FERMI_TOLERANCE_EV = 0.005   # E_F is converged when a finer mesh moves it less than this
FERMI_START_LENGTH_ANGSTROM = 10.0   # the first mesh: N_i·|a_i| ≥ this
# each mesh is 1.5 times as fine along every axis as the one before: with the tetrahedron method's
# error falling as the square of the spacing, E_F's move on the last refinement then bounds the error
# left (it is 1.25 times that error once the method converges)
MESH_GROWTH = 1.5
# refinement stops while the k-points times the cube of the band count stay within this (a 2-atom
# cell of 26 bands reaches MAX_KPOINTS, 100 bands about 5,000 k-points, 400 bands about 80)
KPOINT_BUDGET = 5e9
MAX_KPOINTS = 120_000


def converged_occupation(eigenvalues_at, lattice, num_electrons: float, spinful: bool,
                         tolerance_ev: float = DEFAULT_FERMI_TOLERANCE_EV, segments=None,
                         start_length_angstrom: float = FERMI_START_LENGTH_ANGSTROM,
                         kpoint_budget: float = KPOINT_BUDGET) -> dict:
    """E_F, gap and band edges converged on the k-mesh, from ``eigenvalues_at(kpoints_frac) -> (K, n)``.

    Γ-centred meshes grow by :data:`MESH_GROWTH` along each axis (from N_i·|a_i| ≥
    ``start_length_angstrom``) until E_F moves less than ``tolerance_ev`` or the next mesh would exceed
    the budget (k-points × bands³ ≤ ``kpoint_budget``). A metal's E_F comes from the linear tetrahedron
    method on the mesh. An insulator's is mid-gap, its band edges searched over the mesh, ASE's
    high-symmetry path (``segments``, default :func:`~nextham.kspace.paths.high_symmetry_segments`,
    sampled as DeepH-dock samples ``K_PATH``) and then around the best point of each, so that an edge
    off both (an indirect gap) is found; bands that overlap there make it a semimetal.

    Returns :func:`occupation_summary`'s keys plus ``kmesh`` (the last mesh), ``fermi_error_ev`` (how
    far E_F moved on the last refinement, the estimate of its error; NaN when only one mesh fitted the
    budget), ``fermi_converged``, ``fermi_method`` ("tetrahedron" or "mid-gap"), and, for an
    insulator, ``vbm_kpoint``/``cbm_kpoint`` (fractional), ``vbm_at``/``cbm_at`` (a special point's
    label, a segment "Γ–X", or "off the path") and ``direct_gap`` (None for a metal)."""
    from .meshes import mesh_for_length, monkhorst_pack
    from .paths import describe_kpoint, high_symmetry_segments, segment_kpoints

    result = {"kmesh": None, "fermi_error_ev": math.nan, "fermi_converged": False, "fermi_method": None,
              "vbm_kpoint": None, "cbm_kpoint": None, "vbm_at": None, "cbm_at": None, "direct_gap": None}
    if not math.isfinite(num_electrons):
        return {**occupation_summary(np.zeros((0, 0)), num_electrons, spinful), **result}
    mesh = mesh_for_length(lattice, start_length_angstrom)
    energies = np.sort(eigenvalues_at(monkhorst_pack(mesh)), axis=1)
    affordable = min(MAX_KPOINTS, max(1.0, kpoint_budget / float(energies.shape[1]) ** 3))
    segments = high_symmetry_segments(lattice) if segments is None else segments
    path = segment_kpoints(segments, int(np.clip(affordable / len(segments), 2, 30)))
    path_energies = np.sort(eigenvalues_at(path), axis=1)
    history = []
    while True:
        summary = occupation_summary(np.concatenate([energies, path_energies]), num_electrons, spinful)
        if summary["metallic"]:
            summary["fermi_energy"] = tetrahedron_fermi_level(energies, mesh, lattice, num_electrons, spinful)
        history.append((mesh, summary, energies))
        if len(history) > 1 and history[-2][1]["metallic"] == summary["metallic"] and \
                abs(history[-2][1]["fermi_energy"] - summary["fermi_energy"]) < tolerance_ev:
            break
        finer = [math.ceil(MESH_GROWTH * n) for n in mesh]
        if np.prod(finer) > affordable:
            break
        mesh = finer
        energies = np.sort(eigenvalues_at(monkhorst_pack(mesh)), axis=1)
    moved = abs(history[-2][1]["fermi_energy"] - summary["fermi_energy"]) if len(history) > 1 else math.nan
    result.update({**summary, "kmesh": list(mesh), "fermi_error_ev": moved, "fermi_converged": bool(moved < tolerance_ev),
                   "fermi_method": "tetrahedron" if summary["metallic"] else "mid-gap"})
    if summary["metallic"] is not False or summary["occupied_bands"] == energies.shape[1]:
        return result
    edges = _band_edges(eigenvalues_at, summary["occupied_bands"], np.concatenate([monkhorst_pack(mesh), path]),
                        np.concatenate([energies, path_energies]), 0.5 / max(mesh), affordable)
    if edges["cbm"] <= edges["vbm"]:  # the search found the bands overlapping: a semimetal
        result.update({"fermi_energy": tetrahedron_fermi_level(energies, mesh, lattice, num_electrons, spinful),
                       "band_gap": 0.0, "vbm": math.nan, "cbm": math.nan, "metallic": True, "occupied_bands": None,
                       "fermi_method": "tetrahedron", "fermi_error_ev": math.nan, "fermi_converged": False})
        return result
    result.update({**edges, "fermi_energy": 0.5 * (edges["vbm"] + edges["cbm"]), "band_gap": edges["cbm"] - edges["vbm"],
                   "vbm_at": describe_kpoint(edges["vbm_kpoint"], segments),
                   "cbm_at": describe_kpoint(edges["cbm_kpoint"], segments),
                   "direct_gap": bool(np.allclose(edges["vbm_kpoint"], edges["cbm_kpoint"], atol=1e-3))})
    return result


def _band_edges(eigenvalues_at, occupied: int, kpoints, energies, step: float, max_kpoints: float) -> dict:
    """VBM (top of band ``occupied`` − 1) and CBM (bottom of band ``occupied``), each from its best
    sampled point improved by :func:`_compass_search` while the searches fit ``max_kpoints``."""
    edges = {}
    for name, band, sign in (("vbm", occupied - 1, -1.0), ("cbm", occupied, 1.0)):
        start = int(np.argmin(sign * energies[:, band]))
        value = lambda k, band=band, sign=sign: sign * np.sort(eigenvalues_at(k), axis=1)[:, band]
        point, best = _compass_search(value, kpoints[start], sign * float(energies[start, band]), step,
                                      max_kpoints / 2)
        edges.update({name: sign * best, f"{name}_kpoint": np.round(point, 6).tolist()})
    return edges


def _compass_search(value, point, best: float, step: float, max_evaluations: float):
    """Local minimum of ``value(kpoints (K, 3)) -> (K,)`` from ``point``: ±step along each reciprocal
    axis, moving to the best neighbour that improves and halving the step when none does."""
    moves = np.concatenate([np.eye(3), -np.eye(3)])
    evaluated = 0
    point = np.asarray(point, dtype=np.float64)
    while step > 1e-5 and evaluated + len(moves) <= max_evaluations:
        trial = point + step * moves
        values = value(trial)
        evaluated += len(trial)
        if values.min() < best - 1e-9:
            point, best = trial[int(np.argmin(values))], float(values.min())
        else:
            step /= 2
    return point, best


def occupation_facts(occupation: dict) -> dict:
    """The facts of :func:`converged_occupation` under the names summary.json and a record's metadata
    give them (E_F itself lives in ``fermi_energy``): method, mesh and estimated error of E_F, and the
    gap with its band edges and where they lie."""
    return {"fermi_method": occupation.get("fermi_method"), "fermi_kmesh": occupation.get("kmesh"),
            "fermi_error_ev": occupation.get("fermi_error_ev"), "fermi_converged": occupation.get("fermi_converged"),
            "band_gap_ev": occupation["band_gap"], "metallic": occupation["metallic"],
            "direct_gap": occupation.get("direct_gap"), "vbm_ev": occupation["vbm"], "vbm_kpoint": occupation.get("vbm_kpoint"),
            "vbm_at": occupation.get("vbm_at"), "cbm_ev": occupation["cbm"], "cbm_kpoint": occupation.get("cbm_kpoint"),
            "cbm_at": occupation.get("cbm_at"), "gap_method": occupation.get("gap_method", "eigenvalues")}
