"""DARTS genotypes: printing, safe parsing, validation, published references."""

from __future__ import annotations

import pytest

from tenas.spaces.genotypes import (
    DARTS_V1,
    DARTS_V2,
    Genotype,
    format_genotype,
    parse_genotype,
    to_genotype,
    validate_genotype,
)

V2_TEXT = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)


def test_darts_v2_prints_as_published():
    assert format_genotype(DARTS_V2) == V2_TEXT
    assert repr(DARTS_V2) == V2_TEXT and str(DARTS_V2) == V2_TEXT


@pytest.mark.parametrize("g", [DARTS_V1, DARTS_V2])
def test_round_trip(g):
    assert parse_genotype(format_genotype(g)) == g
    assert to_genotype(str(g)) == g
    assert hash(parse_genotype(str(g))) == hash(g)


def test_accepts_darts_variants():
    # range(2, 6) concat (common in published genotype files), positional fields, lists from DARTS code
    text = V2_TEXT.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=range(2, 6)")
    assert parse_genotype(text) == DARTS_V2
    positional = "Genotype(%r, [2, 3, 4, 5], %r, range(2, 6))" % (list(DARTS_V2.normal), list(DARTS_V2.reduce))
    assert parse_genotype(positional) == DARTS_V2
    as_lists = Genotype([list(p) for p in DARTS_V2.normal], [2, 3, 4, 5], list(DARTS_V2.reduce), range(2, 6))
    assert validate_genotype(as_lists) == DARTS_V2
    assert to_genotype("DARTS_V2") == DARTS_V2 and to_genotype(" DARTS_V1 ") == DARTS_V1


def _bad(old, new):
    assert old in V2_TEXT
    return V2_TEXT.replace(old, new, 1)


@pytest.mark.parametrize(
    "text, message",
    [
        (_bad("'dil_conv_3x3', 2", "'conv_9x9', 2"), "unknown op 'conv_9x9'"),
        (_bad("('dil_conv_3x3', 2)", "('dil_conv_3x3', 6)"), "node 5 (entries 6-7) may only read states 0..4"),
        (_bad("('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0)",
              "('sep_conv_3x3', 1), ('skip_connect', 4), ('skip_connect', 0)"), "node 4 (entries 4-5) may only read states 0..3"),
        (_bad("('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ", ""), "has 6 entries, expected 8"),
        (_bad("('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ", "('sep_conv_3x3', 0), ('sep_conv_3x3', 0), "), "twice"),
        (_bad("('sep_conv_3x3', 0)", "('sep_conv_3x3', True)"), "input True"),
        (_bad("('sep_conv_3x3', 0)", "('sep_conv_3x3', 0, 1)"), "not an (op, input) pair"),
        (_bad("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3, 4, 6]"), "nodes 2..5"),
        (_bad("normal_concat=[2, 3, 4, 5]", "normal_concat=[]"), "non-empty"),
        (_bad("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 2]"), "repeats"),
        (_bad(", reduce_concat=[2, 3, 4, 5]", ""), "missing field(s) reduce_concat"),
        (_bad("reduce_concat=", "reduction_concat="), "unknown genotype field 'reduction_concat'"),
        (_bad("normal_concat=[2, 3, 4, 5]", "normal_concat=__import__('os').getcwd()"), "only literals"),
        (_bad("normal_concat=[2, 3, 4, 5]", "normal_concat=range(2, x)"), "not a literal"),
        (V2_TEXT.replace("Genotype(", "NotGenotype(", 1), "single Genotype(...) call"),
        (V2_TEXT[:-1], "cannot parse genotype"),
        ("Genotype(normal=[], normal=[])", "given twice"),
        ("", "cannot parse genotype"),
    ],
)
def test_malformed_rejected(text, message):
    with pytest.raises(ValueError) as info:
        parse_genotype(text)
    assert message in str(info.value)


def test_never_evaluates_code(tmp_path):
    marker = tmp_path / "pwned"
    text = f"Genotype(normal=open({str(marker)!r}, 'w'), normal_concat=[2], reduce=[], reduce_concat=[2])"
    with pytest.raises(ValueError, match="only literals"):
        parse_genotype(text)
    assert not marker.exists()


def test_other_inputs_rejected():
    with pytest.raises(ValueError, match="unknown genotype name 'DARTS_V9'"):
        to_genotype("DARTS_V9")
    with pytest.raises(ValueError, match="must be a Genotype"):
        validate_genotype([("sep_conv_3x3", 0)])
    with pytest.raises(ValueError, match="must be a string"):
        parse_genotype(42)  # type: ignore[arg-type]
