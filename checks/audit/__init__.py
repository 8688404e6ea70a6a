"""One audit, in the process that runs the target.

- `verify`: `verify(spec, target)` runs every probe (through one shared `probes.context.Context`),
  judges each observation, links causes and rebuilds the network from the measurements
  (`trace.rebuild`): one finding per item, always, in spec order;
- `pipeline`: `run_audit`, the one pipeline (merge waivers, verify, scrub paths, gate, optionally
  write the reports). Every front end reaches it through `isolate.worker`;
- `locate`: the source location of each finding, from what `recording` noted while the target was
  built and run (module construction, parameter writes, optimizer and scheduler construction, the
  forward pass's call sites) and what a manifest declares (`manifest_sites`); `sites` turns a stack
  frame into a repository-relative path.
"""
