"""Runtime images: recipes in runtimes/, built locally, pinned by image ID."""
