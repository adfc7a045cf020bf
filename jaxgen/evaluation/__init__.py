"""jaxgen.evaluation."""
