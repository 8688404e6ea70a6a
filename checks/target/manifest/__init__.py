"""Target manifests: a YAML file that describes a target from another checkout.

`load` validates the file and builds the target (sys.path entries, the model reference, waivers,
notes); `values` builds typed literals (dtypes, interpolation modes, references, `{call: ...}`
values); `recipe_parts` the optimizer with its param groups, the scheduler, the loss and the
`techniques:` section; `stubs` the empty stand-ins `stub_modules:` puts in place of optional imports.
`none` marks a recipe part the target does not have.
"""
