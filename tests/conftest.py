import os

import numpy as np
import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture
def float64():
    """Default torch dtype float64 for the test (equivariance and exactness checks)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.fixture(scope="session")
def embedded():
    """The real PySCF dataset shipped with the package."""
    from nextham.assets import embedded_dataset_path
    from nextham.io import ShardedDataset

    return ShardedDataset(embedded_dataset_path())


@pytest.fixture(scope="session")
def spinless_record(embedded):
    return next(r for r in embedded if not r.spinful)


@pytest.fixture(scope="session")
def spinful_record(embedded):
    return next(r for r in embedded if r.spinful)


def random_rotation(seed, improper=False):
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return -q if improper else q
