"""The bundled targets, registered under the `alexnet_audit.target.bundled` entry-point group.

- `builtin`: `reference` (alexnet_ref, the paper as code) and `torchvision` (torchvision's AlexNet
  with torchvision's published reference training recipe);
- `seeds`: `seed-000` ... `seed-004`, five implementations described in text documents that are
  not part of this repository (../shared/seeds/, beside the checkout), each rebuilt here from its
  document; the comments in seeds.py quote what each rebuild rests on.

Nothing here is imported by `import checks`; `checks.target.resolve` loads these on demand.
"""
