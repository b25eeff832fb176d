"""Policy: what a sandboxed package may do, compiled to what the engine enforces."""
