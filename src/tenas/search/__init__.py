"""TE-NAS pruning search over any space that follows :class:`tenas.spaces.base.SearchSpace`."""
