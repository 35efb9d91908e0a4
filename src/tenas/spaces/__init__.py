"""Search spaces: each module describes the edges, candidate ops, supernets and final networks."""
