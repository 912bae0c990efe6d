//! AsyncAPI 2.6 and 3.0 documents of the repository, checked against the rendered objects.
