"""modelport: serve trained machine-learning models behind a fast, safe, standard HTTP API."""

__version__ = "0.1.0"

__all__ = ["__version__"]
