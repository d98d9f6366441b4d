"""Training: optax recipes, train state and steps, sharding, checkpointing, metric writing, the loop."""
