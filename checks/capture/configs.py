"""Hydra-composed configs and OmegaConf objects in a captured run (child side).

`@hydra.main` composes the config from the primary file, the config groups the defaults list
chooses and the command's overrides, then runs the task in an output directory of its own. The
task is run here as Hydra runs it (its output directory kept inside the scratch directory); what
the composition chose is recorded, the epochs the composed config states are recorded with the
file (or override) each came from, and a constructor argument that is a config object
(`AlexNet(cfg.model)`) is written as `{call: omegaconf:OmegaConf.create, args: [...]}`, so that the
audit builds the model as the script did.
"""
from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .hooks import State

CREATE = "omegaconf:OmegaConf.create"
_STATE: list[State] = []  # the run's state, for `config_call` (called from record.plain)


def hooks(st: State) -> dict[str, Callable[[Any], None]]:
    """Post-import hooks: Hydra's job runner (single runs and the basic multirun launcher)."""
    _STATE[:] = [st]
    return {"hydra._internal.hydra": lambda m: _run_job(st, m),
            "hydra._internal.core_plugins.basic_launcher": lambda m: _run_job(st, m),
            "hydra.utils": lambda m: _instantiate(st, m)}


def _instantiate(st: State, module: Any) -> None:
    """`hydra.utils.instantiate(cfg.optimizer, ...)`: which config node (and file) built which object."""
    make = getattr(module, "instantiate", None)
    if make is None or getattr(make, "_alexnet_capture", False):
        return

    @functools.wraps(make)
    def instantiate(config: Any, *args: Any, **kwargs: Any) -> Any:
        out = make(config, *args, **kwargs)
        key = config._get_full_key(None) if hasattr(config, "_get_full_key") else ""
        target = config.get("_target_") if hasattr(config, "get") else None
        if key and target:
            origin = _origin(key)
            st.rec.note(f"{st.rec.where()}: {target} instantiated from the composed config's `{key}`"
                        + (f" ({origin})" if origin else ""))
        return out

    instantiate._alexnet_capture = True  # type: ignore[attr-defined]
    module.instantiate = instantiate


def config_call(value: Any) -> Any:
    """An OmegaConf config object as a value the manifest writes: a `{call: ...}` that rebuilds a DictConfig,
    the plain list a ListConfig holds; None for anything else."""
    mod = sys.modules.get("omegaconf")
    if mod is None or not isinstance(value, mod.DictConfig | mod.ListConfig):
        return None
    try:
        data = mod.OmegaConf.to_container(value, resolve=True)
    except mod.errors.OmegaConfBaseException:
        return None
    if isinstance(value, mod.ListConfig):  # behaves as the list it holds (Normalize(cfg.mean, cfg.std))
        return data
    key = value._get_full_key(None) if hasattr(value, "_get_full_key") else ""
    if _STATE and key:
        origin = _origin(key)
        _STATE[0].rec.note(f"a config object was passed to a constructor: the composed config's `{key}`"
                           + (f" ({origin})" if origin else ""))
    return {"call": CREATE, "args": [data]}


def _run_job(st: State, module: Any) -> None:
    run = getattr(module, "run_job", None)
    if run is None or getattr(run, "_alexnet_capture", False):
        return

    @functools.wraps(run)
    def run_job(*args: Any, **kwargs: Any) -> Any:
        names = ("task_function", "config")
        got = dict(zip(names, args, strict=False)) | {k: v for k, v in kwargs.items() if k in names}
        config = got.get("config")
        if config is not None:
            try:
                _output_dir(st, config)
            except Exception as exc:  # an interpolation that does not resolve yet: Hydra reports it itself
                st.rec.note(f"could not read Hydra's output directory: {type(exc).__name__}: {exc}")
        task = got.get("task_function")
        if task is not None:
            wrapped = _task(st, task)
            if "task_function" in kwargs:
                kwargs["task_function"] = wrapped
            else:
                args = (wrapped, *args[1:])
        return run(*args, **kwargs)

    run_job._alexnet_capture = True  # type: ignore[attr-defined]
    module.run_job = run_job


def _output_dir(st: State, config: Any) -> None:
    """Hydra writes its output directory (`outputs/<date>/<time>`, the job's log, the config) relative to the
    working directory, the user's: a relative one is moved into the run's work folder in the scratch
    directory (Hydra may chdir into it), an absolute one into `hydra/` there."""
    from omegaconf import open_dict, read_write

    here = st.rec.work
    for key in ("run", "sweep"):
        node = config.hydra.get(key)
        if node is None:
            continue
        where = str(node.get("dir") or "")
        if not where or Path(where).resolve().is_relative_to(here):
            continue
        with read_write(node), open_dict(node):
            node.dir = str(here / "hydra" / key) if os.path.isabs(where) else str(here / where)
        if os.path.isabs(where):
            st.rec.note(f"Hydra's hydra.{key}.dir ({where}) went to the scratch directory")


def _task(st: State, task: Any) -> Any:
    @functools.wraps(task)
    def task_function(cfg: Any) -> Any:
        try:
            _composed(st, cfg)
        except Exception as exc:  # what Hydra holds is only commented; the run goes on without it
            st.rec.note(f"could not read Hydra's composition: {type(exc).__name__}: {exc}")
        try:
            return task(cfg)
        except BaseException as exc:  # Hydra reports it itself and exits 1: the record names it first
            from .child import record_error

            record_error(st.rec, exc)
            raise

    return task_function


def _hydra() -> Any:
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get() if HydraConfig.initialized() else None


def _config_dir() -> Path | None:
    hc = _hydra()
    if hc is None:
        return None
    for source in hc.runtime.config_sources:
        if source.provider == "main" and source.schema == "file":
            return Path(source.path)
    return None


def _has(path: Path, key: list[str]) -> bool:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    for part in key:
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


def _origin(key: str) -> str:
    """Where a composed config key's value came from: an override, the primary file or a group's file."""
    hc = _hydra()
    if hc is None:
        return ""
    root = _config_dir()
    for override in hc.overrides.task:
        name = override.split("=", 1)[0].lstrip("+~")
        choice = hc.runtime.choices.get(name)
        if name == key and isinstance(choice, str) and root is not None:  # a config group chosen by the command
            return f"{_rel(root / name / f'{choice}.yaml')}, chosen by the command-line override {override}"
        if name == key:
            return f"the command-line override {override}"
    if root is None:
        return ""
    parts = key.split(".")
    primary = root / f"{hc.job.config_name}.yaml"
    if _has(primary, parts):  # the primary config is merged last (`_self_` at the end by default)
        return _rel(primary)
    for n in range(len(parts), 0, -1):  # the longest config group the key is in (a whole group's node too)
        group = "/".join(parts[:n])
        choice = hc.runtime.choices.get(group)
        if isinstance(choice, str) and _has(root / group / f"{choice}.yaml", parts[n:]):
            return _rel(root / group / f"{choice}.yaml")
    return ""


def _rel(path: Path) -> str:
    return _STATE[0].rec.rel(str(path)) if _STATE else str(path)


def _find(value: Any, keys: tuple[str, ...], path: str = "", depth: int = 0) -> tuple[str, int] | None:
    if not isinstance(value, dict) or depth > 5:
        return None
    for k, v in value.items():
        if str(k).lower() in keys and isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return f"{path}{k}", v
    for k, v in value.items():
        got = _find(v, keys, f"{path}{k}.", depth + 1)
        if got:
            return got
    return None


def _composed(st: State, cfg: Any) -> None:
    from omegaconf import OmegaConf

    from .child import EPOCH_KEYS

    hc = _hydra()
    rec = st.rec
    if hc is not None:
        root = _config_dir()
        primary = _rel(root / f"{hc.job.config_name}.yaml") if root else f"{hc.job.config_name}.yaml"
        chosen = [f"{g}={c}" for g, c in hc.runtime.choices.items() if not g.startswith("hydra") and c is not None]
        overrides = list(hc.overrides.task)
        rec.note(f"Hydra composed the config from {primary}" + (f" with {', '.join(chosen)}" if chosen else "")
                 + (f"; command-line overrides: {' '.join(overrides)}" if overrides else ""))
        out = Path(hc.runtime.output_dir)
        moved = any(n.startswith("Hydra's hydra.") for n in rec.data["notes"])
        if not moved and out.resolve().is_relative_to(rec.work):
            rec.note("Hydra's output directory (outputs/...) went to the scratch directory")
    data = OmegaConf.to_container(cfg, resolve=True)
    got = _find(data, EPOCH_KEYS)
    if got is not None:
        origin = _origin(got[0]) or "the composed config"
        rec.set("epochs", {"value": got[1], "at": origin, "from": f"config key {got[0]}"})
