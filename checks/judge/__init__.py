"""Compare observations with the paper: pure functions, no torch, no I/O.

- `verdict`: `judge(item, observation)` gives pass / variant / deviation from the item's expected
  value, tolerance and variants; `skipped` and `errored` for the other statuses;
- `edits`: the layer sequence as edits a person can act on, each attributed to the item that
  reports it (spec `covered_by`);
- `causes`: `caused_by` on derived findings, so that one defect counts as one deviation.

Depends on `core` and `spec` only; never on `trace` or `probes` (the `pure` contract).
"""
