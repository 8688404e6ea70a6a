"""From a TARGET string to the `Target` record that is audited.

- `refs`: the forms a reference takes (registered name, `module:attr`, `file.py:attr`,
  `manifest.yaml`) and the report names and file stems they get;
- `imports`: importing modules, files by path and attributes, with one-line errors;
- `resolve`: `load_target`, the one resolver every entry point uses, and the registered names
  (entry-point group `alexnet_audit.targets`);
- `record`: `Target`, `TargetError`, `from_mapping` / `from_object` (the target protocol);
- `manifest/`: YAML manifests that plug in a model from another checkout;
- `bundled/`: the targets shipped with us (`reference`, `torchvision`, `seed-000` ...).

torch is imported inside functions only, when a recipe value or a bundled target needs it.
"""
