import gzip
import shutil
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "embedded_run"


@pytest.fixture(scope="session")
def old_checkpoint(tmp_path_factory):
    """The embedded-run checkpoint of tests/fixtures (spinful: the embedded set holds CsI), unpacked."""
    path = tmp_path_factory.mktemp("checkpoint") / "last.ckpt"
    with gzip.open(FIXTURE / "last.ckpt.gz") as source, open(path, "wb") as target:
        shutil.copyfileobj(source, target)
    return path


@pytest.fixture(scope="session")
def predictor(old_checkpoint):
    from nextham.predict import Predictor

    return Predictor(old_checkpoint)
