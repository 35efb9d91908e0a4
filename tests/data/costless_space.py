"""A user space without a cost function (tests: a budget on it is refused with one message)."""

from tenas.spaces.nb201 import NB201Space


class Costless(NB201Space):
    name = "costless"

    def cost(self, arch, num_classes):
        return None
