"""The core: matching, reply planning, timing, faults, limits, journal, ids, tokens and value generation."""
