"""Generate the BucketingModule goldens with real MXNet 1.9.1.

Run from the repository root:  ~/.mxnet-ref/bin/python tests/golden/gen_bucketing.py
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "bucketing")
sys.path.insert(0, HERE)
import bucketing_cases as bc  # noqa: E402


def main():
    import mxnet as mx
    os.makedirs(OUT, exist_ok=True)
    mod, params, outputs, perplexity = bc.train(mx)
    np.savez(os.path.join(OUT, "train.npz"), **params, **{"out%d" % i: o for i, o in enumerate(outputs)})
    mod.save_checkpoint(os.path.join(OUT, "bk"), 1)
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump({"perplexity": list(perplexity), "buckets": sorted(mod._buckets),
                   "files": sorted(os.listdir(OUT))}, f, indent=1)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
