"""Density-independent matrix elements in real space from PySCF's integral library: overlap and
kinetic energy (two-centre), and the GTH pseudopotential's short-range local (three-centre) and
non-local (separable) parts, each computed around one atom of the cell from the images near it."""
from __future__ import annotations

import numpy as np
from pyscf import gto
from pyscf.gto import moleintor

from .pairs import lattice_images

_LOCAL_INTORS = {1: "int3c1e_sph", 2: "int3c1e_r2_origk_sph", 3: "int3c1e_r4_origk_sph", 4: "int3c1e_r6_origk_sph"}
_PROJECTOR_INTORS = ("int1e_ovlp_sph", "int1e_r2_origi_sph", "int1e_r4_origi_sph")


class ClusterIntegrals:
    """Raw libcint arrays for 'one atom of the cell and the images around it'."""

    def __init__(self, cell, width):
        from pyscf.pbc.gto.pseudo import pp_int

        self.cell, self.width = cell, width
        self.atom_shells = [np.flatnonzero(cell._bas[:, gto.ATOM_OF] == a) for a in range(cell.natm)]
        self.atom_nao = [int(p1 - p0) for *_, p0, p1 in cell.aoslice_by_atom()]
        env = [np.asarray(cell._env, dtype=np.float64)]
        offset = len(env[0])
        # projector shells (and their h_ij blocks) and the C1..C4 Gaussians, per atom of the cell
        fake, hl_blocks = pp_int.fake_cell_vnl(cell)
        self.projectors, offset = self._fake_shells(fake, env, offset)
        self.hl_blocks = hl_blocks
        self.local_terms = {}
        for cn in _LOCAL_INTORS:
            fake = pp_int.fake_cell_vloc(cell, cn)
            if fake.nbas:
                self.local_terms[cn], offset = self._fake_shells(fake, env, offset)
        self.env = np.concatenate(env)
        ranges = [cell._pseudo[cell.atom_symbol(a)] for a in range(cell.natm) if cell.atom_symbol(a) in cell._pseudo]
        widths = [pp[1] for pp in ranges] + [rl for pp in ranges for rl, nl, _ in pp[5:] if nl > 0]
        # r^(2i-2) exp(-r²/2 r_l²) with i ≤ 3 is below 1e-10 of its peak beyond ~9 r_l
        self.pseudo_reach = 9.0 * max(widths) if widths else 0.0

    @staticmethod
    def _fake_shells(fake, env, offset):
        """{atom: bas rows} of a PySCF fake cell, env pointers moved to the combined env."""
        bas = np.asarray(fake._bas).copy()
        bas[:, gto.PTR_EXP] += offset
        bas[:, gto.PTR_COEFF] += offset
        env.append(np.asarray(fake._env, dtype=np.float64))
        rows = {}
        for index, row in enumerate(bas):
            rows.setdefault(int(row[gto.ATOM_OF]), []).append((index, row))
        return rows, offset + len(fake._env)

    def cluster(self, atoms, cart, extra_rows=()):
        """(atm, bas, env, ao_slices, number of basis shells) for images at ``cart`` (atom 0 first);
        ``extra_rows`` are shells placed on image 0 after the basis shells."""
        count = len(atoms)
        atm = np.asarray(self.cell._atm)[atoms].copy()
        atm[:, gto.PTR_COORD] = len(self.env) + 3 * np.arange(count)
        bas = [self.cell._bas[self.atom_shells[a]] for a in atoms]
        owner = np.repeat(np.arange(count), [len(b) for b in bas])
        bas = np.concatenate(bas).copy()
        bas[:, gto.ATOM_OF] = owner
        nbasis = len(bas)
        if len(extra_rows):
            extra = np.asarray(extra_rows).copy()
            extra[:, gto.ATOM_OF] = 0
            bas = np.concatenate([bas, extra])
        env = np.concatenate([self.env, np.asarray(cart, dtype=np.float64).ravel()])
        return (np.ascontiguousarray(atm, dtype=np.int32), np.ascontiguousarray(bas, dtype=np.int32), env, nbasis)

    def padded(self, atoms):
        """AO positions of a cluster in the padded layout (K·w), in the cluster's AO order."""
        return np.concatenate([k * self.width + np.arange(self.atom_nao[a]) for k, a in enumerate(atoms)])


def two_centre(integrals: ClusterIntegrals, pair_blocks: dict, positions, lattice, cutoff):
    """Overlap and kinetic blocks of every pair within ``cutoff``: {"overlap": PairBlocks, "kinetic": PairBlocks}."""
    import torch

    some = next(iter(pair_blocks.values()))
    atoms_all, shifts_all, cart_all = lattice_images(positions, lattice, cutoff)
    from scipy.spatial import cKDTree

    tree = cKDTree(cart_all)
    w = integrals.width
    for centre in range(len(positions)):
        near = np.asarray(tree.query_ball_point(positions[centre], cutoff + 1e-9), dtype=np.int64)
        index = some.lookup(np.full(len(near), centre), atoms_all[near], shifts_all[near])
        near = near[index >= 0]
        index = index[index >= 0]
        home = np.flatnonzero((atoms_all[near] == centre) & ~shifts_all[near].any(1))
        order = np.concatenate([home, np.setdiff1d(np.arange(len(near)), home)])
        near, index = near[order], index[order]
        atm, bas, env, nbasis = integrals.cluster(atoms_all[near], cart_all[near])
        nsh = len(integrals.atom_shells[centre])
        n_c = integrals.atom_nao[centre]
        columns = integrals.padded(atoms_all[near])
        for name, intor in (("overlap", "int1e_ovlp_sph"), ("kinetic", "int1e_kin_sph")):
            values = moleintor.getints(intor, atm, bas, env, shls_slice=(0, nsh, 0, nbasis))
            padded = np.zeros((n_c, len(near) * w))
            padded[:, columns] = values
            tiles = padded.reshape(n_c, len(near), w).transpose(1, 0, 2)
            target = pair_blocks[name]
            target.blocks[torch.as_tensor(index), :n_c, :] = torch.as_tensor(tiles, dtype=target.dtype,
                                                                             device=target.device)


def pseudopotential(integrals: ClusterIntegrals, target, positions, lattice, radius_of_atom, strong_radius_of_atom):
    """Short-range local (C1..C4) and non-local GTH parts, added into ``target`` (PairBlocks):
    for each pseudopotential centre, every pair of images within reach of it. An image whose
    functions all stay below the threshold of ``strong_radius_of_atom`` within reach of the centre is
    weak there: pairs of two weak images are left out (their product is below that threshold squared)."""
    import torch
    from scipy.spatial import cKDTree

    reach = float(np.max(radius_of_atom)) + integrals.pseudo_reach
    atoms_all, shifts_all, cart_all = lattice_images(positions, lattice, reach)
    tree = cKDTree(cart_all)
    w = integrals.width
    for centre in range(len(positions)):
        near = np.asarray(tree.query_ball_point(positions[centre], reach), dtype=np.int64)
        distance = np.linalg.norm(cart_all[near] - positions[centre], axis=1)
        keep = distance <= radius_of_atom[atoms_all[near]] + integrals.pseudo_reach
        near, distance = near[keep], distance[keep]
        home = (atoms_all[near] == centre) & ~shifts_all[near].any(1)
        strong = distance <= strong_radius_of_atom[atoms_all[near]] + integrals.pseudo_reach
        # the home atom first, then the strong images, then the weak ones
        order = np.lexsort((np.arange(len(near)), ~strong, ~home))
        near, count = near[order], int(np.count_nonzero(strong | home))
        atoms, shifts = atoms_all[near], shifts_all[near]
        columns = integrals.padded(atoms)
        rows_ao = int(sum(integrals.atom_nao[a] for a in atoms[:count]))
        strong_shells = int(sum(len(integrals.atom_shells[a]) for a in atoms[:count]))
        matrix = np.zeros((rows_ao, len(columns)))  # strong images' functions × all
        # short-range local part: Σ_cn ∫ μ ν r^(2cn-2) C_cn exp(-r²/2r_loc²)
        for cn, rows in integrals.local_terms.items():
            mine = [row for _, row in rows.get(centre, [])]
            if not mine:
                continue
            atm, bas, env, nbasis = integrals.cluster(atoms, cart_all[near], mine)
            values = moleintor.getints3c(_LOCAL_INTORS[cn], atm, bas, env,
                                         shls_slice=(0, strong_shells, 0, nbasis, nbasis, nbasis + len(mine)), aosym="s1")
            matrix += np.asarray(values).reshape(rows_ao, len(columns), -1).sum(-1)
        # non-local part: Σ_ij |p_i> h_ij <p_j| per angular momentum
        mine = integrals.projectors.get(centre, [])
        if mine:
            rows = np.array([row for _, row in mine])
            hls = [integrals.hl_blocks[index] for index, _ in mine]
            dims = np.array([len(h) for h in hls])
            halves = []
            for power, intor in enumerate(_PROJECTOR_INTORS):
                selected = rows[dims > power]
                if not len(selected):
                    halves.append(None)
                    continue
                atm, bas, env, nbasis = integrals.cluster(atoms, cart_all[near], selected)
                halves.append(moleintor.getints(intor, atm, bas, env, comp=1,
                                                shls_slice=(nbasis, nbasis + len(selected), 0, nbasis)))
            offsets = [0, 0, 0]
            for (index, row), hl in zip(mine, hls):
                nd = 2 * int(row[gto.ANG_OF]) + 1
                projections = np.empty((len(hl), nd, len(columns)))
                for i in range(len(hl)):
                    projections[i] = halves[i][offsets[i]:offsets[i] + nd]
                    offsets[i] += nd
                matrix += np.einsum("ilp,ij,jlq->pq", projections[:, :, :rows_ao], hl, projections)
        padded = np.zeros((count * w, len(atoms) * w))
        padded[np.ix_(columns[:rows_ao], columns)] = matrix
        padded = torch.as_tensor(padded, dtype=target.dtype, device=target.device)
        target.add_over_images(padded, atoms[:count], shifts[:count], atoms, shifts)
        if count < len(atoms):  # weak × strong, the transpose of strong × weak
            target.add_over_images(padded[:, count * w:].T.contiguous(), atoms[count:], shifts[count:],
                                   atoms[:count], shifts[:count])
