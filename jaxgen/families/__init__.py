"""jaxgen.families."""
