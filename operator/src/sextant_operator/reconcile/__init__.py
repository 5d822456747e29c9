"""Pure reconcilers: desired status from spec plus observations, with no I/O."""
