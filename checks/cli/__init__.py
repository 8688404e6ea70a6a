"""The `alexnet-audit` command (`main`: audit, compare, smoke, capture, fake-data, list) and the
multi-target `compare` (`compare`); a front end: it parses, calls `isolate.client` and prints.

Exit codes: 0 the gate passes, 1 it fails, 2 a usage, spec or target-load error. No torch at
module level.
"""
