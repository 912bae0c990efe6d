//! The event topology: applications → topics → schemas, users, connectors, MirrorMaker flows and
//! queues, as JSON and Graphviz DOT.
