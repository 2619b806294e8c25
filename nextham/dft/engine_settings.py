"""The PySCF engine's settings: one dataclass, whose defaults are those of
``nextham/configs/data/generate.yaml`` (a test keeps them equal)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

BUILDERS = ("realspace", "kspace")


@dataclass
class SOCSettings:
    basis: dict = field(default_factory=lambda: {"Cs": "def2-svp", "I": "stuttgart_dz"})
    ecp: dict = field(default_factory=lambda: {"Cs": "ECPDS46MDFSO", "I": "ECPDS46MDFSO"})
    min_exponent: float = 0.05
    max_radial_per_l: dict = field(default_factory=lambda: {0: 2, 1: 1, 2: 1})


@dataclass
class PySCFSettings:
    """Engine settings; the defaults are those of nextham/configs/data/generate.yaml (a test keeps them equal)."""

    xc: str = "pbe"
    basis: str = "SZV-MOLOPT-SR-GTH"
    valence: dict = field(default_factory=dict)  # element -> GTH valence (q) where the family's first is not wanted
    pseudo: str = "GTH-PBE"
    ke_cutoff_hartree: float = 100.0
    scf_kmesh_length_angstrom: float = 12.0
    ft_range_angstrom: float = 12.5
    pair_cutoff_angstrom: float = 11.0
    adaptive_pair_cutoff: bool = True
    min_pair_cutoff_angstrom: float = 8.0
    cutoff_safety: float = 1.0  # fraction of the eigenvalue tolerance the truncated blocks must meet
    conv_tol: float = 1e-11
    conv_tol_grad: float = 1e-7
    max_cycle: int = 100
    smearing_hartree: float = 0.0  # Fermi smearing of the SCF's occupations (defect states); 0 = none
    h0_density: str = "atomic-ks"
    eigenvalue_tolerance_hartree: float = 1e-5
    storage_dtype: str = "float64"
    kpoint_chunk: int = 64
    builder: str = "realspace"  # realspace | kspace (spin–orbit cells always use kspace)
    realspace_threshold: float = 1e-8  # basis functions are cut where they fall below this
    # products of diffuse primitives are summed on a mesh of half the points per axis where their Fourier
    # series beyond it is below this (changes blocks by ~1e-9 Ha, below the storage rounding); 0: one mesh
    realspace_coarse_tolerance: float = 1e-8
    device: str = "cpu"  # where the real-space builder's grid work runs (cpu | cuda)
    soc: SOCSettings = field(default_factory=SOCSettings)

    @classmethod
    def from_dict(cls, data: dict) -> "PySCFSettings":
        data = dict(data or {})
        if "element_rules" in data:
            raise ValueError("engine.element_rules is a table for many elements: resolve it for a structure's "
                             "elements first (nextham.dft.engine_rules.resolve_engine_settings)")
        soc = dict(data.pop("soc", {}) or {})
        # recorded by earlier versions but without effect (density fitting integrates on Becke grids)
        soc.pop("xc_mesh", None)
        settings = cls(soc=SOCSettings(**soc), **data)
        if settings.builder not in BUILDERS:
            raise ValueError(f"engine.builder must be one of {BUILDERS}, not {settings.builder!r}")
        return settings

    def uses_realspace(self, soc: bool) -> bool:
        return self.builder == "realspace" and not soc

    def to_dict(self):
        return asdict(self)
