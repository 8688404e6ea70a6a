"""Running a repository's definitions without its scripts: which statements run, and running them.

A folder target is imported the way `import model` would import it, with one difference: only the
statements that define something run. Imports, functions, classes and plain assignments run;
expressions (`train(model)`, `plt.show()`), loops, `with` blocks and the `__main__` block do not,
and neither does an assignment that loads data, downloads, parses the command line, trains, plots
or builds a model. `if` and `try` blocks keep what they hold of the above. A kept statement that
fails (a config file read from a relative path) is skipped and recorded; a failing import, class
or function definition is the module's failure, as in Python.

Notebook cells are classified with the same markers (`markers`): a cell that trains, downloads
or plots is skipped unless it also defines the model, when only its definitions run.
"""
from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .scan import callee_name, dotted

TRAINS = frozenset({"backward", "step", "zero_grad", "fit", "train_one_epoch", "train_epoch", "train_model",
                    "train", "training_loop", "run_training", "evaluate", "validate", "test_model", "main"})
LOADS_DATA = frozenset({"DataLoader", "ImageFolder", "CIFAR10", "CIFAR100", "MNIST", "FashionMNIST", "KMNIST",
                        "SVHN", "STL10", "ImageNet", "random_split", "load_dataset", "read_csv"})
DOWNLOADS = frozenset({"urlretrieve", "urlopen", "download_url", "download_and_extract_archive",
                       "load_state_dict_from_url", "download", "download_file_from_google_drive"})
DOWNLOAD_DOTTED = ("requests.", "wget.", "gdown.", "torch.hub.", "hub.", "urllib.")
PLOTS = frozenset({"subplots", "subplot", "figure", "imshow", "plot", "show", "savefig", "scatter", "hist",
                   "heatmap", "make_grid"})
PLOT_RECEIVERS = ("plt.", "pyplot.", "sns.", "matplotlib.")
PARSES_ARGS = frozenset({"parse_args", "parse_known_args"})
LOADS_WEIGHTS = ("torch.load", "load_state_dict")
# Expression statements that set the process up rather than do work: kept.
SETUP_CALLS = ("sys.path.", "warnings.", "torch.manual_seed", "random.seed", "np.random.seed", "numpy.random.seed",
               "torch.set_default_dtype", "torch.backends.", "os.environ.", "logging.basicConfig", "matplotlib.use",
               "torch.set_num_threads", "torch.set_grad_enabled")


def _short(node: ast.AST, limit: int = 50) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def executed(node: ast.AST) -> Iterable[ast.AST]:
    """`node` and what runs with it: not the bodies of the functions, classes and lambdas it defines."""
    yield node
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        yield from executed(child)


def markers(nodes: Iterable[ast.AST]) -> dict[str, str]:
    """What the code does when it runs that a definitions-only run leaves out: reason -> an example."""
    found: dict[str, str] = {}

    def mark(reason: str, node: ast.AST) -> None:
        found.setdefault(reason, _short(node))

    for top in nodes:
        for node in executed(top):
            if isinstance(node, ast.For) and any(w in _short(node.target).lower() + _short(node.iter).lower()
                                                 for w in ("epoch", "loader", "batch")):
                mark("trains", node.iter)
            if not isinstance(node, ast.Call):
                continue
            name, full = callee_name(node), dotted(node.func)
            if name in TRAINS:
                mark("trains", node)
            if name in LOADS_DATA:
                mark("loads data", node)
            if name in DOWNLOADS or full.startswith(DOWNLOAD_DOTTED) or any(
                    k.arg == "download" and isinstance(k.value, ast.Constant) and k.value.value for k in node.keywords):
                mark("downloads", node)
            if full.startswith(PLOT_RECEIVERS) or (name in PLOTS and "." in full):
                mark("plots", node)
            if name in PARSES_ARGS:
                mark("parses the command line", node)
            if full.endswith(LOADS_WEIGHTS):
                mark("loads weights", node)
    return found


def is_main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "__name__" in ast.unparse(node.test) and "__main__" in ast.unparse(node.test)


def builds(node: ast.AST, names: set[str]) -> bool:
    """Whether `node` calls one of `names` (a candidate network: building a model is work)."""
    return any(isinstance(n, ast.Call) and callee_name(n) in names for n in executed(node))


@dataclass
class Selection:
    """The statements that run, and those left out (line numbers, with the first reason seen)."""

    kept: list[ast.stmt] = field(default_factory=list)
    dropped: list[tuple[int, str]] = field(default_factory=list)


def _is_setup(node: ast.Expr) -> bool:
    if isinstance(node.value, ast.Constant):
        return True  # a docstring
    return isinstance(node.value, ast.Call) and dotted(node.value.func).startswith(SETUP_CALLS)


def _bound(node: ast.AST) -> set[str]:
    """The names a statement binds (assignment, loop and `with` targets)."""
    targets: list[ast.AST] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.For | ast.AsyncFor):
        targets = [node.target]
    elif isinstance(node, ast.With | ast.AsyncWith):
        targets = [i.optional_vars for i in node.items if i.optional_vars is not None]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _uses(node: ast.AST) -> set[str]:
    return {n.id for n in executed(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def select(body: list[ast.stmt], models: set[str], lost: set[str] | None = None) -> Selection:
    """The definitions of `body` (see the module docstring); `models`: the candidate names; `lost`:
    names bound by statements left out (an assignment using one is left out too)."""
    out = Selection()
    lost = set() if lost is None else lost
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
                      | ast.Pass | ast.Global | ast.Nonlocal):
            out.kept.append(node)
            lost -= {getattr(node, "name", "")}
        elif isinstance(node, ast.Expr) and _is_setup(node):
            out.kept.append(node)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            why = next(iter(markers([node])), "builds a model" if builds(node, models) else "")
            why = why or ("uses what was not run" if _uses(node) & lost else "")
            if why:
                out.dropped.append((node.lineno, why))
                lost |= _bound(node)
            else:
                out.kept.append(node)
                lost -= _bound(node)
        elif is_main_guard(node):
            continue  # never runs on import anyway
        elif isinstance(node, ast.If | ast.Try):
            _select_block(node, models, out, lost)
        else:
            out.dropped.append((node.lineno, next(iter(markers([node])), "script code")))
            lost |= _bound(node)
    return out


def _select_block(node: ast.If | ast.Try, models: set[str], out: Selection, lost: set[str]) -> None:
    """An `if` / `try` keeps the definitions it holds (an emptied block holds `pass`)."""
    def part(stmts: list[ast.stmt]) -> list[ast.stmt]:
        inner = select(stmts, models, lost)
        out.dropped.extend(inner.dropped)
        return inner.kept or ([ast.copy_location(ast.Pass(), stmts[0])] if stmts else [])

    if isinstance(node, ast.If):
        new: ast.stmt = ast.If(test=node.test, body=part(node.body), orelse=part(node.orelse))
    else:
        handlers = [ast.ExceptHandler(type=h.type, name=h.name, body=part(h.body)) for h in node.handlers]
        for h, old in zip(handlers, node.handlers, strict=True):
            ast.copy_location(h, old)
        new = ast.Try(body=part(node.body), handlers=handlers, orelse=part(node.orelse),
                      finalbody=part(node.finalbody))
    out.kept.append(ast.copy_location(new, node))


def line_ranges(lines: Iterable[int]) -> str:
    """[3, 4, 5, 9] -> '3-5, 9'."""
    nums = sorted(set(lines))
    parts: list[str] = []
    start = prev = None
    for n in [*nums, None]:
        if start is not None and (n is None or n != prev + 1):  # type: ignore[operator]
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = None
        if n is not None and start is None:
            start = n
        prev = n
    return ", ".join(parts)


@dataclass
class Failure:
    """A kept statement that raised: skipped, and said so in the notes."""

    where: str
    statement: str
    error: str


def run_statements(stmts: list[ast.stmt], namespace: dict[str, Any], filename: str, where: Any,
                   failures: list[Failure]) -> None:
    """Run `stmts` one by one in `namespace`. An import, class or function definition that fails
    raises (the module cannot load); any other statement that fails is skipped into `failures`.
    `where(line)` names a line for the notes."""
    from ..core.errors import first_line

    for node in stmts:
        code = compile(ast.Module(body=[node], type_ignores=[]), filename, "exec")
        try:
            exec(code, namespace)  # noqa: S102 - the repository's own definitions, in the sandboxed worker
        except (ImportError, MemoryError, KeyboardInterrupt):
            raise
        except BaseException as exc:
            if isinstance(node, ast.Import | ast.ImportFrom | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                raise
            failures.append(Failure(where(node.lineno), _short(node), first_line(exc)))
