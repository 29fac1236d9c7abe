"""Reading inputs: the layer manifest, reading and checking layer files, and the on-disk caches.
"""
