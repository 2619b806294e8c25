"""summary.json and friends are strict JSON: NaN (a metal's VBM) is null, numpy values are plain."""
import json
import math

import numpy as np

from nextham.io.jsonfile import json_ready, write_json


def _strict(text):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_nan_and_infinity_are_written_as_null(tmp_path):
    data = {"vbm_ev": math.nan, "cbm_ev": np.float64("inf"), "kmesh": np.array([4, 4, 4]), "gap": np.float32(0.5),
            "nested": [{"x": float("-inf")}, (1, 2)]}
    path = write_json(tmp_path / "summary.json", data)
    read = _strict(path.read_text())
    assert read == {"vbm_ev": None, "cbm_ev": None, "kmesh": [4, 4, 4], "gap": 0.5, "nested": [{"x": None}, [1, 2]]}
    assert json_ready(3) == 3 and json_ready("text") == "text"
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically, no temporary left
