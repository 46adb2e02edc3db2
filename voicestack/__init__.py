"""Voice Stack: speech recognition and synthesis on Kubernetes."""

__version__ = "0.1.0"
