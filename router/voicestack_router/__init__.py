"""OpenAI- and Bazarr-compatible HTTP API in front of the KServe predictors."""
