"""Model monitoring: reference profiles, drift and data-quality scores per feature."""
