"""Extract the routine names of MXNet's Python API overview (its NDArray and Symbol sections).

Run from the repository root:  python3 tests/golden/gen_api_overview.py
Reads ../shared/mxnet-docs/python-api-overview.txt (tables flattened to "name Description."
runs) and writes tests/golden/api_overview_names.json.
"""
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
DOC = os.path.join(HERE, "..", "..", "..", "shared", "mxnet-docs", "python-api-overview.txt")


def names_in(chunk):
    out = []
    for line in chunk.splitlines():
        if "说明" not in line:  # the header cell of every table
            continue
        body = line.split("说明", 1)[1]
        for m in re.finditer(r"(?:^ |[.!?)] )([A-Za-z_][\w]*(?:\.[\w]+)*) (?=[A-Z(<])", body):
            if "." not in m.group(1) and m.group(1) not in out:
                out.append(m.group(1))
    return out


def main():
    text = open(DOC, encoding="utf-8").read()
    split = text.find("mxnet.symbol")
    result = {"ndarray": names_in(text[:split]), "symbol": names_in(text[split:])}
    with open(os.path.join(HERE, "api_overview_names.json"), "w") as f:
        json.dump(result, f, indent=1)
    print({k: len(v) for k, v in result.items()})


if __name__ == "__main__":
    main()
