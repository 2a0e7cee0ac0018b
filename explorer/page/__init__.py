"""The page shell: what the person picked, shared boxes and figure helpers, caches, scheduling and the warm-up."""
