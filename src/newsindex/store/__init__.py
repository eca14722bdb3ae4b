"""The index on disk: schema, codec, storage, the writer and its workers, duplicates."""
