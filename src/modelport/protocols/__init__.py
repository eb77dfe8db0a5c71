"""The protocols' own logic, without a web framework: payload envelopes (native/KServe
V1, MLflow), the native predict, and the Open Inference Protocol's tensor codec and
dataplane. ``api/`` decodes HTTP or gRPC into these calls and encodes their answers;
the same function serves a protocol's routed endpoint and its fast lane."""
