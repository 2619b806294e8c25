import itertools

import numpy as np
import pytest

from nextham.dft.prototypes import PROTOTYPES, build_prototype, expand_entry, strain_matrix, supercell


def nearest_neighbour(positions, lattice):
    shifts = np.array(list(itertools.product(range(-1, 2), repeat=3))) @ lattice
    best = np.inf
    for i, j in itertools.product(range(len(positions)), repeat=2):
        d = np.linalg.norm(positions[j] + shifts - positions[i], axis=1)
        best = min(best, d[d > 1e-9].min())
    return best


@pytest.mark.parametrize("name, elements, parameters, bond", [
    ("zincblende", ["Ga", "As"], {"a": 5.65}, 5.65 * np.sqrt(3) / 4),
    ("rocksalt", ["Na", "Cl"], {"a": 5.64}, 5.64 / 2),
    ("cesium_chloride", ["Cs", "I"], {"a": 4.567}, 4.567 * np.sqrt(3) / 2),
    ("fluorite", ["Ca", "F"], {"a": 5.46}, 5.46 * np.sqrt(3) / 4),
    ("wurtzite", ["Zn", "O"], {"a": 3.25, "c": 5.21, "u": 0.382},
     min(0.382 * 5.21, np.sqrt(3.25 ** 2 / 3 + (0.5 - 0.382) ** 2 * 5.21 ** 2))),
    ("hexagonal_monolayer", ["B", "N"], {"a": 2.504}, 2.504 / np.sqrt(3)),
    ("mx2_monolayer", ["Mo", "S"], {"a": 3.16, "thickness": 3.13}, np.hypot(3.16 / np.sqrt(3), 3.13 / 2)),
    ("mx2_1t_monolayer", ["Sn", "S"], {"a": 3.65, "thickness": 2.95}, np.hypot(3.65 / np.sqrt(3), 2.95 / 2)),
    ("cubic_perovskite", ["Sr", "Ti", "O"], {"a": 3.905}, 3.905 / 2),
    ("fcc", ["Cu"], {"a": 3.61}, 3.61 / np.sqrt(2)),
    ("bcc", ["Fe"], {"a": 2.87}, 2.87 * np.sqrt(3) / 2),
    ("hcp", ["Ti"], {"a": 2.95, "c": 4.68}, np.sqrt(2.95 ** 2 / 3 + 4.68 ** 2 / 4)),  # c/a < √(8/3): out of plane
    ("a7", ["As"], {"a": 3.76, "c": 10.55, "u": 0.227}, pytest.approx(2.517, abs=1e-3)),  # As–As bond of grey arsenic
    ("graphite", ["C"], {"a": 2.46, "c": 6.71}, 2.46 / np.sqrt(3)),
    ("trigonal_chain", ["Se"], {"a": 4.366, "c": 4.954, "x": 0.2254}, pytest.approx(2.373, abs=1e-3)),  # Se–Se in the chain
    ("black_phosphorus", ["P"], {"a": 3.314, "b": 10.48, "c": 4.376, "y": 0.1017, "z": 0.0806}, pytest.approx(2.223, abs=1e-3)),
    ("molecular_cmca", ["Cl"], {"a": 6.24, "b": 4.48, "c": 8.26, "y": 0.1015, "z": 0.1073},
     2 * np.hypot(0.1015 * 4.48, 0.1073 * 8.26)),  # the Cl2 bond
    ("molecular_pa3", ["N"], {"a": 5.66, "bond": 1.10}, 1.10),
    ("l12", ["Au", "Cu"], {"a": 3.75}, 3.75 / np.sqrt(2)),
    ("rutile", ["Ti", "O"], {"a": 4.594, "c": 2.959, "u": 0.305},  # equatorial Ti–O, shorter than the apical
     np.hypot(np.sqrt(2) * (0.5 - 0.305) * 4.594, 2.959 / 2)),
    ("half_heusler", ["Ti", "Ni", "Sn"], {"a": 5.93}, 5.93 * np.sqrt(3) / 4),
    ("nickel_arsenide", ["Ni", "As"], {"a": 3.62, "c": 5.04}, np.sqrt(3.62 ** 2 / 3 + 5.04 ** 2 / 16)),
    ("a15", ["Nb", "Sn"], {"a": 5.29}, 5.29 / 2),
    ("beta_tin", ["Sn"], {"a": 5.83, "c": 3.18}, np.sqrt(5.83 ** 2 / 4 + 3.18 ** 2 / 16)),
])
def test_prototype_geometry(name, elements, parameters, bond):
    symbols, positions, lattice = build_prototype(name, elements, **parameters)
    assert len(symbols) == len(positions) and set(symbols) == set(elements)
    expected = bond if isinstance(bond, type(pytest.approx(0.0))) else pytest.approx(bond, rel=1e-6)
    assert nearest_neighbour(positions, lattice) == expected


def test_every_prototype_is_tested():
    assert set(PROTOTYPES) - {"diamond"} == {
        "zincblende", "rocksalt", "cesium_chloride", "fluorite", "wurtzite", "hexagonal_monolayer",
        "mx2_monolayer", "mx2_1t_monolayer", "cubic_perovskite", "fcc", "bcc", "hcp", "a7", "graphite",
        "trigonal_chain", "black_phosphorus", "molecular_cmca", "molecular_pa3", "l12", "rutile", "half_heusler",
        "nickel_arsenide", "a15", "beta_tin"}


def test_variants_are_strained_and_rattled_reproducibly():
    entry = {"prototype": "rocksalt", "elements": ["Mg", "O"], "parameters": {"a": 4.21}, "variants": 3,
             "strain": 0.03, "rattle": 0.05}
    specs, again = expand_entry(entry, seed=1), expand_entry(entry, seed=1)
    assert [s.label for s in specs] == ["MgO-rocksalt-000", "MgO-rocksalt-001", "MgO-rocksalt-002"]
    _, ideal_positions, ideal_lattice = build_prototype("rocksalt", ["Mg", "O"], a=4.21)
    np.testing.assert_array_equal(specs[0].lattice, ideal_lattice)
    for spec, same in zip(specs[1:], again[1:]):
        np.testing.assert_array_equal(spec.positions, same.positions)
        strain = np.linalg.solve(ideal_lattice, spec.lattice) - np.eye(3)
        assert 0 < np.abs(strain).max() <= 0.03 and np.allclose(strain, strain.T)
    assert not np.allclose(expand_entry(entry, seed=2)[1].positions, specs[1].positions)


def test_supercells_vacancies_and_alloys():
    entry = {"prototype": "diamond", "elements": ["Si", "Si"], "parameters": {"a": 5.431}, "supercell": [2, 2, 1],
             "variants": 3, "strain": 0.02, "rattle": 0.03}
    perfect = expand_entry(entry)
    assert perfect[0].label == "Si-diamond-2x2x1-000" and len(perfect[0].symbols) == 8
    assert np.linalg.det(perfect[0].lattice) == pytest.approx(4 * 5.431 ** 3 / 4)
    assert nearest_neighbour(perfect[0].positions, perfect[0].lattice) == pytest.approx(5.431 * np.sqrt(3) / 4)

    vacancy = expand_entry({**entry, "vacancies": 1})
    assert vacancy[0].label == "Si-diamond-2x2x1-vac1-000" and all(len(s.symbols) == 7 for s in vacancy)
    alloy = expand_entry({**entry, "substitutions": {"Si": {"Ge": 0.25}}, "group": "new_combination"})
    assert all(s.symbols.count("Ge") == 2 and s.symbols.count("Si") == 6 for s in alloy)
    assert len({tuple(s.symbols) for s in alloy}) > 1  # each variant its own random arrangement
    assert alloy[0].metadata["group"] == "new_combination" and alloy[0].metadata["substitutions"] == {"Si": {"Ge": 0.25}}
    with pytest.raises(ValueError, match="vacancies leave no atom"):
        expand_entry({**entry, "vacancies": 8})


def test_slabs_have_vacuum_along_the_cut():
    entry = {"prototype": "fcc", "elements": ["Cu"], "parameters": {"a": 3.61},
             "slab": {"miller": [1, 1, 1], "layers": 4, "vacuum": 10.0}, "variants": 2, "strain": 0.02, "rattle": 0.03}
    ideal, rattled = expand_entry(entry)
    assert ideal.label == "Cu-fcc-slab111-000" and len(ideal.symbols) == 4 and ideal.metadata["slab"]["layers"] == 4
    normal = np.cross(ideal.lattice[0], ideal.lattice[1])
    normal /= np.linalg.norm(normal)
    heights = ideal.positions @ normal
    period = abs(ideal.lattice[2] @ normal)
    spacing = 3.61 / np.sqrt(3)  # (111) interlayer distance
    assert np.ptp(heights) == pytest.approx(3 * spacing, rel=1e-6)
    assert period - np.ptp(heights) == pytest.approx(10.0, rel=1e-6)
    assert nearest_neighbour(ideal.positions, ideal.lattice) == pytest.approx(3.61 / np.sqrt(2), rel=1e-6)
    assert not np.allclose(rattled.positions, ideal.positions)


def test_thermal_displacements_follow_temperature_and_mass():
    from nextham.dft.prototypes import thermal_sigma

    # high-temperature Debye model: <u_x^2> = 3 hbar^2 T / (M k_B Theta^2); Si at 300 K, Theta 645 K
    hbar, amu, kb = 1.054571817e-34, 1.66053906660e-27, 1.380649e-23
    expected = np.sqrt(3 * hbar ** 2 * 300 / (28.085 * amu * kb * 645 ** 2)) * 1e10
    assert thermal_sigma(["Si"], 300, 645)[0] == pytest.approx(expected, rel=1e-3)
    assert thermal_sigma(["Si"], 1200, 645)[0] == pytest.approx(2 * expected, rel=1e-3)
    assert thermal_sigma(["Ge"], 300, 645)[0] < thermal_sigma(["Si"], 300, 645)[0]

    entry = {"prototype": "fcc", "elements": ["Al"], "parameters": {"a": 4.05}, "supercell": [3, 3, 3],
             "variants": 4, "thermal": {"temperatures": [100, 900], "debye_temperature": 428}}
    specs = expand_entry(entry)
    assert [s.metadata["temperature_k"] for s in specs] == [100, 900, 100, 900]
    ideal = build_prototype("fcc", ["Al"], a=4.05)
    _, positions, _ = supercell(*ideal, [3, 3, 3])
    spread = [np.std(s.positions - positions) for s in specs]
    sigma = [thermal_sigma(["Al"], t, 428)[0] for t in (100, 900, 100, 900)]
    np.testing.assert_allclose(spread, sigma, rtol=0.25)  # 81 displacements per variant
    with pytest.raises(ValueError, match="thermal needs temperatures"):
        expand_entry({**entry, "thermal": {"debye_temperature": 428}})


def test_adding_options_to_an_entry_keeps_the_draws_of_the_others():
    """Strain, displacement and substitution are drawn in a fixed order, so structures a dataset holds
    keep their content keys when the expansion learns new options."""
    entry = {"prototype": "diamond", "elements": ["Si", "Si"], "parameters": {"a": 5.431}, "supercell": [2, 1, 1],
             "substitutions": {"Si": {"Ge": 0.5}}, "variants": 3, "strain": 0.02, "rattle": 0.04}
    rng = np.random.default_rng([0, sum(map(ord, "Si-diamond-2x1x1-SiGe"))])
    specs = expand_entry(entry)
    symbols, positions, lattice = supercell(*build_prototype("diamond", ["Si", "Si"], a=5.431), [2, 1, 1])
    for index, spec in enumerate(specs):
        deformation = strain_matrix(rng, 0.02) if index else np.eye(3)
        displacement = rng.normal(0.0, 0.04, size=positions.shape) if index else 0.0
        sites = [i for i, s in enumerate(symbols) if s == "Si"]
        rng.shuffle(sites)
        np.testing.assert_allclose(spec.positions, positions @ deformation + displacement)
        assert sorted(i for i, s in enumerate(spec.symbols) if s == "Ge") == sorted(sites[:2])
