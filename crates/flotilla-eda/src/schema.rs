//! Schema compatibility with the registries' semantics (Avro, JSON Schema, Protobuf; levels
//! NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE).
