"""Running metrics: the scheduler's task functions and the runtimes that call them."""
