"""eFact flat-file format: model, layouts, controls, writer, reader, validator and responses."""
