"""The gRPC shell (package ``hilum.v1``, service ``Dialog``) over the dialogue engine."""
