"""The GPU checks in one short run, for a machine with a CUDA device (every part also runs on the CPU,
which is how it is tested without one):

- train: a few hundred steps of the benchmark recipe with trainer.accelerator=gpu (structures/s, peak
  GPU memory), and the same steps under DDP with 2 processes (NCCL);
- builder: H(0)+S of a 216-atom Si cell with engine.device=cuda against the CPU (seconds, the largest
  difference of any block);
- solve: a 1,000-atom Si cell predicted end to end on the device against the CPU (seconds per stage,
  the largest difference of Ĥ, the gap).

    python benchmarks/gpu_check.py --out results/ [--parts train builder solve] [--device cuda]

Each part runs in its own process with a time limit; a part that fails prints its error and the
others go on. The table is printed and written with the raw numbers to <out>/gpu_check.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

from common import in_fresh_process, machine


def _peak_gpu_mb(device):
    import torch

    return torch.cuda.max_memory_allocated() / 1024 ** 2 if str(device).startswith("cuda") else float("nan")


def _train(device, steps, output):
    """Steps of `nextham fit --config bench` on the device: (seconds, structures/s, peak GPU MB)."""
    import torch

    from nextham.configs import load_config
    from nextham.train import fit

    accelerator = "gpu" if str(device).startswith("cuda") else "cpu"
    config = load_config("bench", [f"output={output}", f"trainer.accelerator={accelerator}", "trainer.devices=1",
                                   f"trainer.max_steps={steps}", "trainer.max_epochs=1000",
                                   "callbacks.kspace.plot=false", "trainer.enable_progress_bar=false"])
    if accelerator == "gpu":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    trainer, module, _ = fit(config, resume=False)
    seconds = time.perf_counter() - start
    # structures seen: the training split once per epoch, the steps a fraction of the epochs
    train = len(trainer.datamodule.dataset.split_labels(trainer.datamodule.hparams.train_split))
    structures = trainer.global_step / max(1, trainer.num_training_batches) * train
    return {"seconds": seconds, "steps": int(trainer.global_step), "structures_per_s": structures / seconds,
            "peak_gpu_mb": _peak_gpu_mb(device)}


def _ddp(device, steps, output, timeout):
    """The same steps through the command line with 2 DDP processes (NCCL on a GPU, gloo on the CPU)."""
    accelerator = "gpu" if str(device).startswith("cuda") else "cpu"
    command = [sys.executable, "-m", "nextham", "fit", "--config", "bench", f"output={output}",
               f"trainer.accelerator={accelerator}", "trainer.devices=2", "trainer.strategy=ddp",
               f"trainer.max_steps={steps}", "trainer.max_epochs=1000", "callbacks.kspace.plot=false",
               "trainer.enable_progress_bar=false", "--restart"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    return {"seconds": time.perf_counter() - start, "returncode": done.returncode,
            "tail": (done.stdout + done.stderr)[-1500:]}


def _si_cell(repeats):
    from ase.build import bulk

    return bulk("Si", "diamond", a=5.431, cubic=True).repeat((repeats,) * 3)


def _build(device, repeats):
    """H(0)+S of a cubic Si supercell on ``device``: (seconds, the record's blocks)."""
    import numpy as np

    from nextham.assets import shipped_checkpoint
    from nextham.dft.pyscf_engine import zeroth_step_blocks
    from nextham.predict import Predictor
    from nextham.structures import structure_spec

    atoms = _si_cell(repeats)
    predictor = Predictor(shipped_checkpoint(), device="cpu")
    spec = structure_spec(atoms, f"Si-{len(atoms)}")
    settings = predictor.settings_for(spec.symbols)
    settings.device = str(device)
    start = time.perf_counter()
    record, _ = zeroth_step_blocks(spec, settings)
    return {"seconds": time.perf_counter() - start, "hamiltonian_0": np.asarray(record.hamiltonian_0),
            "overlap": np.asarray(record.overlap), "peak_gpu_mb": _peak_gpu_mb(device)}


def _solve(device, repeats):
    """A Si supercell predicted end to end with the shipped model on ``device``."""
    import numpy as np

    from nextham.predict import Predictor

    atoms = _si_cell(repeats)
    start = time.perf_counter()
    result = Predictor(device=str(device))(atoms, f"Si-{len(atoms)}")
    return {"seconds": time.perf_counter() - start, "timings": result.timings, "gap": result.band_gap,
            "fermi": result.fermi_energy, "solver": result.solver, "hamiltonian": np.asarray(result.record.hamiltonian),
            "peak_gpu_mb": _peak_gpu_mb(device)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/gpu_check")
    parser.add_argument("--parts", nargs="+", default=["train", "builder", "solve"], choices=["train", "builder", "solve"])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--builder-repeats", type=int, default=3, help="cubic Si cells: 3 → 216 atoms")
    parser.add_argument("--solve-repeats", type=int, default=5, help="cubic Si cells: 5 → 1,000 atoms")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"{machine()}; device {args.device}, threads {args.threads}", flush=True)
    report = {"machine": machine(), "device": args.device}

    def attempt(name, function, *arguments):
        try:
            return function(*arguments)
        except Exception as error:  # noqa: BLE001 - a failed part is reported, the others still run
            report[f"{name}_error"] = f"{type(error).__name__}: {error}"
            print(f"{name}: {type(error).__name__}: {error}\n{traceback.format_exc()[-800:]}", flush=True)
            return None

    if "train" in args.parts:
        single = attempt("train", in_fresh_process, args.threads, _train, args.device, args.steps, str(out / "run1"))
        if single:
            report["train"] = single
            print(f"train, 1 process: {single['seconds']:.1f} s for {args.steps} steps, "
                  f"{single['structures_per_s']:.1f} structures/s, peak GPU {single['peak_gpu_mb']:.0f} MB", flush=True)
        ddp = attempt("ddp", _ddp, args.device, args.steps, str(out / "run2"), 300)
        if ddp:
            report["ddp"] = ddp
            print(f"train, DDP 2 processes: exit {ddp['returncode']} after {ddp['seconds']:.1f} s\n{ddp['tail'][-400:]}",
                  flush=True)
    if "builder" in args.parts:
        gpu = attempt("builder", in_fresh_process, args.threads, _build, args.device, args.builder_repeats)
        cpu = attempt("builder_cpu", in_fresh_process, args.threads, _build, "cpu", args.builder_repeats)
        if gpu and cpu:
            import numpy as np

            difference = max(float(np.abs(gpu[k] - cpu[k]).max()) for k in ("hamiltonian_0", "overlap"))
            report["builder"] = {"device_s": gpu["seconds"], "cpu_s": cpu["seconds"], "max_difference": difference,
                                 "peak_gpu_mb": gpu["peak_gpu_mb"], "atoms": 8 * args.builder_repeats ** 3}
            print(f"H(0)+S, {8 * args.builder_repeats ** 3} atoms: {args.device} {gpu['seconds']:.1f} s, cpu "
                  f"{cpu['seconds']:.1f} s, largest block difference {difference:.2e} (eV / S)", flush=True)
    if "solve" in args.parts:
        gpu = attempt("solve", in_fresh_process, args.threads, _solve, args.device, args.solve_repeats)
        cpu = attempt("solve_cpu", in_fresh_process, args.threads, _solve, "cpu", args.solve_repeats)
        if gpu and cpu:
            import numpy as np

            difference = float(np.abs(gpu["hamiltonian"] - cpu["hamiltonian"]).max())
            report["solve"] = {"device": {k: v for k, v in gpu.items() if k != "hamiltonian"},
                               "cpu": {k: v for k, v in cpu.items() if k != "hamiltonian"},
                               "max_difference_ev": difference}
            print(f"predict, {8 * args.solve_repeats ** 3} atoms ({gpu['solver']} solver): {args.device} "
                  f"{gpu['seconds']:.1f} s, cpu {cpu['seconds']:.1f} s; largest Ĥ difference {difference:.2e} eV; gap "
                  f"{gpu['gap']:.4f} vs {cpu['gap']:.4f} eV\n  device stages: {gpu['timings']}\n  cpu stages: "
                  f"{cpu['timings']}", flush=True)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str))
    print(f"written: {out / 'gpu_check.json'}")


if __name__ == "__main__":
    main()
