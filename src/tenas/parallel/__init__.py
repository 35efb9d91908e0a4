"""Where candidate scores are computed: in-process, local worker processes (and, optionally, Ray)."""
