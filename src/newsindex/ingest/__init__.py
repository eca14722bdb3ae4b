"""Reading stories from files, archives and the web into `Story` objects (never Whoosh)."""
