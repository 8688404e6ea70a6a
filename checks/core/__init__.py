"""The bottom layer: what every stage shares, with no dependency on any other stage.

- `findings`: `Status`, `Severity`, `Observation`, `Skip`, `Absent`, `Finding`, `Report`, the
  records the stages exchange;
- `errors`: `UsageError` and the one-line messages (`first_line`, `call_target`);
- `inputs`: reading what users hand us (YAML, limits, names) with did-you-mean suggestions;
- `numbers`: the rounding that keeps reports byte-identical across machines;
- `files`: atomic writes and the output-directory check made before any audit runs.

Pure: no torch (lint: the `no-torch` contract in pyproject.toml).
"""
