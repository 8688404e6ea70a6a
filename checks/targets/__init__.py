"""The bundled targets, registered under the `alexnet_audit.targets` entry-point group.

- `builtin`: `reference` (alexnet_ref, the paper as code) and `torchvision` (torchvision's AlexNet
  with torchvision's published reference training recipe);
- `seeds`: `seed-000` ... `seed-004`, five implementations described in ../shared/seeds/, each
  rebuilt here from its document.

Nothing here is imported by `import checks`; `checks.resolve` loads these on demand.
"""
