"""alexnet-audit: measure an AlexNet implementation against the NIPS 2012 paper, item by item."""
from checks.findings import Finding, Report, Severity, Status
from checks.spec import Item, Spec, SpecError, load_spec

__all__ = ["Finding", "Item", "Report", "Severity", "Spec", "SpecError", "Status", "load_spec", "verify"]


def __getattr__(name: str):
    # verify pulls in torch; keep `import checks` light for the pytest plugin.
    if name == "verify":
        from checks.verify import verify

        return verify
    raise AttributeError(name)
