"""A fake Kubernetes API server for vnfpool's tests: in memory, real semantics, Python 3 stdlib only."""
