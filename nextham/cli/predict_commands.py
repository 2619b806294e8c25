"""``nextham predict``: Ĥ of new structures (``--structure FILE|FOLDER ...``, any format ASE reads), or
of a dataset split (``--config ... --split``) for comparison with its DFT answers."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from .model_commands import _checkpoints, _common, _config, _data_and_module


def add_parser(subparsers):
    predict = subparsers.add_parser("predict", help="Ĥ, bands, DOS and DeepH files of new structures (--structure), "
                                                    "or predictions for a dataset split")
    _common(predict, checkpoint=True, config_required=False)
    predict.add_argument("--structure", nargs="+", default=None, metavar="FILE",
                         help="structure files or folders of them (CIF, POSCAR, extxyz, ... anything ASE reads)")
    predict.add_argument("--out", required=True, help="output folder")
    predict.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    predict.add_argument("--memory-gb", type=float, default=None,
                         help="refuse structures estimated to need more (default 80%% of available memory)")
    predict.add_argument("--chunk-atoms", type=int, default=None,
                         help="run the network on pieces of this many atoms (default: only when memory requires)")
    from ..record import SOLVERS, SPARSE_ABOVE_ROWS

    predict.add_argument("--solver", choices=SOLVERS, default="auto",
                         help="E_F, gap, bands and DOS by dense eigensolves or without them (kernel polynomial "
                              f"method, shift-invert Lanczos near E_F); auto: sparse above {SPARSE_ABOVE_ROWS:,} "
                              "rows of H(k)")
    predict.add_argument("--engine", default=None, metavar="CONFIG",
                         help="a config whose engine section replaces the checkpoint's engine settings")
    predict.add_argument("--split", default="test", help="dataset mode: the split to predict")
    predict.add_argument("--spinful", action="store_true",
                         help="write spinless structures as H ⊗ I2 too (a DeepH-pack training set is all one kind)")
    predict.set_defaults(handler=run_predict)


def run_predict(args):
    if args.structure:
        return predict_structures(args)
    if not args.config:
        raise ValueError("give --structure FILE ... (new structures) or --config (a dataset split)")
    from ..evaluate.predictions import save_predictions

    config, data, module, _ = _data_and_module(args)
    out = Path(args.out)
    save_predictions(module, data, args.split, out / "shards", deeph_folder=out / "deeph", spinful=args.spinful)
    print(f"predicted Ĥ written to {out / 'shards'} (nextham shards) and {out / 'deeph' / 'dft'}/<label>/ (DeepH-pack: "
          f"hamiltonian.h5 = Ĥ, also as hamiltonian_pred.h5, with K_PATH; DeepH-dock reads every folder as it is)")
    return 0


def predict_structures(args) -> int:
    from tqdm.auto import tqdm

    from ..configs import load_config
    from ..errors import DataError
    from ..io.deeph import warn_mixed_kinds
    from ..io.jsonfile import write_json
    from ..io.shards import DatasetWriter
    from ..predict import Predictor, read_structures

    if not args.ckpt and not args.config:
        from ..assets import shipped_checkpoint

        checkpoints = [shipped_checkpoint()]  # the model shipped with the package
    else:
        checkpoints = args.ckpt or _checkpoints(args, _config(args))
    engine = load_config(args.engine)["engine"] if args.engine else None
    predictor = Predictor(checkpoints, device=args.device, memory_gb=args.memory_gb, engine_settings=engine,
                          solver=args.solver,
                          chunk_atoms=args.chunk_atoms)
    structures = read_structures(args.structure)
    out = Path(args.out)
    writer = DatasetWriter(out / "shards", predictor.basis, split_fractions={"predicted": 1.0},
                           provenance={"predicted_by": "nextham predict", "checkpoints": predictor.checkpoints})
    summaries, failed, seen = [], {}, set()
    for label, atoms, path in tqdm(structures, desc="predict", unit="structure"):
        while label in seen:
            label += "_"
        seen.add(label)
        folder = out / "dft" / label  # DeepH-dock's dataset layout, <root>/dft/<label>/
        if label in writer.completed_labels and (folder / "summary.json").exists():  # a rerun resumes
            summaries.append(json.loads((folder / "summary.json").read_text()))
            continue
        try:
            result = predictor(atoms, label, path)
        except DataError as error:
            failed[label] = str(error)
            print(f"nextham: error: {error}", file=sys.stderr)
            continue
        result.write(folder, spinful=args.spinful)
        writer.add_basis(result.basis)  # the structure's elements, new ones the checkpoint admitted included
        writer.append_shard([result.record])
        summaries.append(result.summary())
    write_json(out / "summary.json", {"structures": summaries, "failed": failed})
    if not summaries:  # every structure failed, each said why on its own line: no empty table, no trailer
        return 1
    warn_mixed_kinds(out, [s["spinful"] for s in summaries], args.spinful)
    print(format_summaries(summaries))
    for s in summaries:
        if s.get("in_domain") is False:
            print(f"nextham: warning: {s['label']} is outside the model's domain ({s['domain_reason']}); Ĥ there is "
                  f"the model's extrapolation and may be worse than H(0) (H(0) and S are the engine's)", file=sys.stderr)
    print(f"per structure in {out / 'dft'}/<label>/: hamiltonian.h5 (Ĥ, also as hamiltonian_pred.h5), hamiltonian_0.h5, "
          f"overlap.h5, POSCAR, info.json, K_PATH (DeepH-pack), bands.png, summary.json; all as nextham shards in "
          f"{out / 'shards'}")
    return 1 if failed else 0


def format_summaries(summaries) -> str:
    """The terminal table: per structure whether it lies in the model's domain (``OUT``: an unseen element
    or an atom unlike the training atoms; the score is the farthest atom's distance, 1 the edge), its gap
    and band edges, E_F with the mesh it converged on and its last move, and the time of every stage
    (H(0)+S, graph, network, eigensolver for E_F, the band path, the DOS) with their total (the export too)."""
    header = (f"{'structure':<24}{'atoms':>6}{'pairs':>7}{'domain':>12}{'gap eV':>8}  {'band edges':<18}{'E_F eV':>9}"
              f"{'E_F mesh':>10}{'moved meV':>10}{'H(0)+S s':>10}{'graph s':>9}{'network s':>10}{'eigen s':>9}"
              f"{'bands s':>9}{'DOS s':>8}{'total s':>9}")
    lines = [header, "-" * len(header)]
    for s in summaries:
        t = s["timings_s"]
        edges = "metal" if s.get("metallic") else f"{s.get('vbm_at')} → {s.get('cbm_at')}"
        mesh = "x".join(map(str, s["fermi_kmesh"])) if s.get("fermi_kmesh") else "—"
        moved = s.get("fermi_error_ev")
        moved = f"{1000 * moved:.1f}" if moved is not None and math.isfinite(moved) else "—"
        verdict = {True: "in", False: "OUT", None: "?"}[s.get("in_domain")]
        domain = f"{verdict} {s['domain_score']:.2f}" if s.get("domain_score") is not None else verdict
        lines.append(f"{s['label']:<24}{s['atoms']:>6}{s['pairs']:>7}{domain:>12}{s['band_gap_ev']:>8.3f}  {edges:<18}"
                     f"{s['fermi_energy_ev']:>9.3f}{mesh:>10}{moved:>10}{t['h0_and_overlap_s']:>10.2f}{t['graph_s']:>9.3f}"
                     f"{t['inference_s']:>10.3f}{t['eigensolver_s']:>9.3f}{t.get('bands_s', math.nan):>9.2f}"
                     f"{t.get('dos_s', math.nan):>8.2f}{t.get('total_s', math.nan):>9.2f}")
    return "\n".join(lines)
