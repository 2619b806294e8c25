"""A non-editable install (what `pip install .` or a wheel gives) runs the packaged fit config from
any directory, and predicts with the shipped checkpoint: the configs, their `base:` sections, the
embedded dataset and the trained model ship inside the package."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_a_non_editable_install_fits_the_packaged_config_from_another_directory(tmp_path):
    source = tmp_path / "source"  # build from a copy, so the checkout gets no build/ or egg-info
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "runs", "__pycache__", "*.egg-info",
                                                                "build", "dist", ".pytest_cache"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # the dependencies (pinned, already installed here) are lent to the new environment; nextham itself
    # is built and installed from the source tree like any package
    site = subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   text=True).strip()
    lent = [path for path in sys.path if path.endswith("site-packages")]
    Path(site, "lent_dependencies.pth").write_text("\n".join(lent) + "\n")
    build_tools = {**os.environ, "PYTHONPATH": os.pathsep.join(lent)}  # this setuptools, not the venv's bundled one
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
                    str(source)], check=True, cwd=tmp_path, env=build_tools)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    location = subprocess.check_output([python, "-c", "import nextham; print(nextham.__file__)"], cwd=elsewhere,
                                       text=True).strip()
    assert location.startswith(site), location  # the installed copy, not the checkout
    nextham = venv / "bin" / "nextham"
    fit = subprocess.run([nextham, "fit", "--config", "fit", "trainer.max_epochs=1", "trainer.limit_train_batches=2",
                          "trainer.enable_progress_bar=false", "output=run"], cwd=elsewhere, capture_output=True,
                         text=True, timeout=900)
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert "finished 1 epochs" in fit.stdout
    assert (elsewhere / "run" / "checkpoints" / "last.ckpt").exists()
    inspect = subprocess.run([nextham, "data", "inspect", "--no-check"], cwd=elsewhere, capture_output=True, text=True)
    assert inspect.returncode == 0 and "40 structures" in inspect.stdout, inspect.stderr[-2000:]
    # the shipped checkpoint is package data: `nextham predict` with no checkpoint named loads it from the
    # installed copy and predicts a structure file
    from ase.build import bulk
    from ase.io import write

    write(elsewhere / "Si.vasp", bulk("Si", "diamond", a=5.431), format="vasp")
    predict = subprocess.run([nextham, "predict", "--structure", "Si.vasp", "--out", "predicted"], cwd=elsewhere,
                             capture_output=True, text=True, timeout=900)
    assert predict.returncode == 0, predict.stderr[-3000:]
    summary = json.loads((elsewhere / "predicted" / "summary.json").read_text())["structures"][0]
    assert summary["checkpoints"][0].startswith(site) and summary["checkpoints"][0].endswith("bench.ckpt")
    assert (elsewhere / "predicted" / "dft" / "Si" / "hamiltonian.h5").exists()  # DeepH-dock's <root>/dft/<label>
