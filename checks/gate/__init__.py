"""The gate: a report, waivers and a severity threshold become pass/fail (`evaluate.evaluate_gate`).

One `Verdict` per item (pass, variant, skip, deviation, tolerated, waived, stale, expired, error,
...), with `--strict` and `--require-explained`; the CLI's exit code and each pytest item's
outcome are read from the same `GateResult`. Pure: no torch; depends on `core` and `spec` only.
"""
