"""The bundled targets, registered under the `alexnet_audit.targets` entry-point group.

- `builtin`: `reference` (alexnet_ref, the paper as code) and `torchvision` (torchvision's AlexNet
  with torchvision's published reference training recipe);
- `seeds`: `seed-000` ... `seed-004`, five implementations described in text documents that are
  not part of this repository (../shared/seeds/, beside the checkout), each rebuilt here from its
  document: `seed_models` holds the five models, `seeds` their targets; the comments in both quote
  what each rebuild rests on.

Nothing here is imported by `import alexnet_audit`; `alexnet_audit.target.resolve` loads these on demand.
"""
