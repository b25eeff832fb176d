"""Trust: which keys may sign which packages, and the verdict on a package."""
