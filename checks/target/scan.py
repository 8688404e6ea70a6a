"""The candidate networks of a folder or notebook, found in the parsed source (nothing is run).

A candidate is a module-level class deriving from `nn.Module` (directly, through `nn.Sequential`,
a `LightningModule`, or another class of the repository that does), or a module-level function
that returns one: it returns a call of such a class (or of `nn.Sequential`), directly or through
a local variable. Which of them really is an image classifier, and which is the AlexNet, is
decided later by building and running them (`screen`).

Pure: no torch, nothing of the repository imported.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

from .sources import Unit

MODULE_BASES = frozenset({"Module", "Sequential", "LightningModule"})


@dataclass(frozen=True)
class Candidate:
    """A class or factory that may build the network."""

    name: str
    kind: str  # "class" or "factory"
    unit: Unit
    line: int
    returns: tuple[str, ...] = ()  # a factory: the class names it returns calls of

    @property
    def where(self) -> str:
        return self.unit.where(self.line)

    @property
    def label(self) -> str:
        return f"{self.name}()" if self.kind == "factory" else self.name


def callee_name(node: ast.expr) -> str:
    """The last name of a call's function: `nn.Conv2d` -> 'Conv2d', `AlexNet` -> 'AlexNet'."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def dotted(node: ast.expr) -> str:
    """`torch.nn.Module` -> 'torch.nn.Module' (empty when it is not a plain dotted name)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr}" if head else ""
    return ""


def module_classes(units: list[Unit]) -> list[Candidate]:
    """Module-level classes deriving, at some remove, from nn.Module."""
    classes = [(u, node) for u in units for node in u.tree.body if isinstance(node, ast.ClassDef)]
    known = set(MODULE_BASES)
    found: dict[int, Candidate] = {}
    changed = True
    while changed:  # a base class of the repository may be defined after (or in another file than) its subclass
        changed = False
        for u, node in classes:
            if id(node) in found:
                continue
            if any(callee_name(b) in known for b in node.bases if isinstance(b, ast.Name | ast.Attribute)):
                found[id(node)] = Candidate(node.name, "class", u, node.lineno)
                known.add(node.name)
                changed = True
    return [found[id(n)] for _, n in classes if id(n) in found]


def _returned_calls(fn: ast.FunctionDef | ast.AsyncFunctionDef, classes: set[str]) -> tuple[str, ...]:
    """The class names `fn` returns calls of (`return Net(...)`, or `m = Net(...); ...; return m`)."""
    bound: dict[str, str] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            name = callee_name(node.value)
            if name in classes:
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        bound[t.id] = name
    out: list[str] = []
    for node in ast.walk(fn):
        if not isinstance(node, ast.Return) or node.value is None:
            continue
        value = node.value
        while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) \
                and value.func.attr in ("to", "cuda", "cpu", "float", "eval", "train"):
            value = value.func.value  # return Net().to(device)
        if isinstance(value, ast.Call) and callee_name(value) in classes:
            out.append(callee_name(value))
        elif isinstance(value, ast.Name) and value.id in bound:
            out.append(bound[value.id])
    return tuple(dict.fromkeys(out))


def factories(units: list[Unit], classes: set[str]) -> list[Candidate]:
    """Module-level public functions that return a model (a call of a candidate class or nn.Sequential)."""
    makers = classes | {"Sequential"}
    out = []
    for u in units:
        for node in u.tree.body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.name.startswith(("_", "test")):
                continue
            returns = _returned_calls(node, makers)
            if returns:
                out.append(Candidate(node.name, "factory", u, node.lineno, returns))
    return out


def find_candidates(units: list[Unit]) -> list[Candidate]:
    """Every candidate class, then every factory, in file order."""
    classes = module_classes(units)
    return classes + factories(units, {c.name for c in classes})


def module_functions(units: list[Unit]) -> dict[str, list[tuple[Unit, ast.FunctionDef | ast.AsyncFunctionDef]]]:
    """name -> the module-level functions of that name (each with its unit), in file order."""
    out: dict[str, list[tuple[Unit, ast.FunctionDef | ast.AsyncFunctionDef]]] = {}
    for u in units:
        for node in u.tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                out.setdefault(node.name, []).append((u, node))
    return out


def uses_relative_imports(unit: Unit) -> bool:
    return any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(unit.tree))
