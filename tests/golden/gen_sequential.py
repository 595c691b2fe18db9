"""Generate SequentialModule / PythonLossModule goldens with real MXNet 1.9.1.

Run from the repository root:  ~/.mxnet-ref/bin/python tests/golden/gen_sequential.py
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "sequential")
sys.path.insert(0, HERE)
import sequential_cases as sc  # noqa: E402


def main():
    import mxnet as mx
    os.makedirs(OUT, exist_ok=True)
    params, score, out_shapes = sc.sequential(mx)
    np.savez(os.path.join(OUT, "sequential.npz"), **params)
    np.savez(os.path.join(OUT, "python_loss.npz"), **sc.python_loss(mx))
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump({"score": score, "output_shapes": out_shapes}, f)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
