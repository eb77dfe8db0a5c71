"""Open Inference Protocol V2 gRPC messages: the .proto and its generated modules."""
