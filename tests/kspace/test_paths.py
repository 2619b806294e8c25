"""ASE's high-symmetry path as segments, DeepH-dock's K_PATH sampling and the names of k-points."""
import numpy as np
from ase.build import bulk

from nextham.kspace.paths import describe_kpoint, high_symmetry_segments, segment_kpoints


def test_the_fcc_path_runs_through_its_special_points():
    segments = high_symmetry_segments(bulk("Si", "diamond", a=5.43).cell[:])
    labels = [a for a, *_ in segments] + [segments[-1][2]]
    assert {"G", "X", "L", "K", "W", "U"} <= set(labels)
    start, end = next((ka, kb) for a, ka, b, kb in segments if (a, b) == ("G", "X"))
    np.testing.assert_allclose(start, 0.0)
    np.testing.assert_allclose(end, [0.5, 0.0, 0.5])  # X in the primitive fcc reciprocal basis


def test_segments_are_sampled_as_dock_samples_k_path():
    segments = [("G", np.zeros(3), "X", np.array([0.5, 0.0, 0.5])), ("X", np.array([0.5, 0.0, 0.5]), "L", np.full(3, 0.5))]
    points = segment_kpoints(segments, 5)
    assert points.shape == (10, 3)
    np.testing.assert_allclose(points[:5, 0], [0.0, 0.125, 0.25, 0.375, 0.5])  # both ends included
    np.testing.assert_allclose(points[5], [0.5, 0.0, 0.5])


def test_kpoints_are_named_by_special_point_segment_or_neither():
    segments = high_symmetry_segments(bulk("Si", "diamond", a=5.43).cell[:])
    assert describe_kpoint([0.0, 0.0, 0.0], segments) == "Γ"
    assert describe_kpoint([0.5, 0.0, 0.5], segments) == "X"
    assert describe_kpoint([0.5, 1.0, 0.5], segments) == "X"  # X + a reciprocal lattice vector
    assert describe_kpoint([0.2, 0.0, 0.2], segments) == "Γ–X"
    assert describe_kpoint([0.1, 0.23, 0.37], segments) == "off the path"


def test_a_cell_ase_cannot_classify_still_gets_a_path():
    segments = high_symmetry_segments(np.array([[1.0, 0.0, 0.0], [1.0, 1e-9, 0.0], [0.0, 0.0, 1.0]]))
    assert len(segments) >= 2 and segments[0][0] == "G"
