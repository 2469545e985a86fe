"""Reading movie datasets into the catalog: formats (parsing rows into records) and the loader (writing them)."""
