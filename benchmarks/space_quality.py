"""Moved to benchmarks/quality/space_quality.py. This stub only keeps the old path working for a run started
before the move (its ``spawn`` workers re-read the main script from its path): remove it once that run is done."""

if __name__ == "__main__":
    import runpy
    from pathlib import Path

    runpy.run_path(str(Path(__file__).resolve().parent / "quality" / "space_quality.py"), run_name="__main__")
