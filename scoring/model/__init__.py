"""The paper's model: torchxrayvision backbone, linear heads, evaluation. No ORM, no Django.

Every module here is safe to import from the web process: torch and torchxrayvision are
imported inside the functions that need them (backbone, preprocess, features, saliency),
so only a worker that actually runs the network pays for them.
"""
