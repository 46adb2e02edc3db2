"""What two processes of the stack must agree on, written once (``docs/contracts.md``).

Pure Python plus pydantic: the router, the operator and both predictors import these modules, so nothing
here may pull in torch, PyAV or Kubernetes clients.
"""
