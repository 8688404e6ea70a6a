"""The paper as data: `paper_spec.yaml` loaded into `Spec` / `Item` / `Variant` (`load`), and
waivers, the accepted deviations, from a file, a manifest or the plugin's fixture, with the one
merge rule (`waivers`).

Pure: no torch. Depends on `core` only.
"""
