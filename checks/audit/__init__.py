"""One audit, in the process that runs the target.

- `verify`: `verify(spec, target)` runs every probe (through one shared `probes.context.Context`),
  judges each observation, links causes and rebuilds the network from the measurements
  (`trace.rebuild`): one finding per item, always, in spec order;
- `pipeline`: `run_audit`, the one pipeline (merge waivers, verify, scrub paths, gate, optionally
  write the reports). Every front end reaches it through `isolate.worker`.
"""
