"""Survey a corpus: many targets through the single-target client on Dask, and a corpus report.

`alexnet-audit survey TARGETS --out DIR` (README, "Survey a corpus"). The stage sits between the
front ends and `capture | smoke`: `cli` (its `survey` and `compare` commands) imports it, and it
imports only `isolate` and the stages below.

- `engine.py`: the one multi-target engine (Dask: a LocalCluster it starts and stops, or a running
  scheduler), bounded submission, one retry of a task whose worker was lost, Ctrl-C;
- `warm.py`: the Dask worker's side, `client.run` forked from a zygote each worker keeps warm;
- `corpus.py`: TARGETS (list files, globs, arguments), names and stems, content keys, resume markers;
- `table.py`: the reports streamed into survey.parquet / survey.csv, and the corpus totals;
- `document.py`: survey.md and its figures;
- `run.py`: the command itself.
"""
