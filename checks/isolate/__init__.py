"""Running one target's audit in a process of its own, and bringing the result back.

- `client`: the single-target client every front end uses: `Request` in, a finished `Outcome`
  out (`run` in a worker, `run_here` in this process); never raises for what the target does;
- `sandbox`: the worker process under a time and a memory limit, in its own session and scratch
  directory, its output kept in files;
- `worker`: `python -m alexnet_audit.isolate.worker`: load the target, preflight, `run_audit`,
  one JSON result;
- `codec`: that result as plain JSON both ways (no pickle);
- `jail`: the OS sandbox (Linux namespaces) around a worker, where the machine allows it;
  `attempts`: what audited code tried outside its scratch directory, for the run notes;
- `offline`: no download while target code runs;
- `zygote`: a warm parent that imports torch once and forks each `compare` worker.

The parent side (`client`, `sandbox`, `codec`) imports no torch.
"""
