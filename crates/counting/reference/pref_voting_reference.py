#!/usr/bin/env python3
"""Independent reference counts from the PyPI package `pref-voting`, for the random comparison
tests in src/schulze/tests.rs, src/borda/tests.rs and src/irv/tests.rs.

Usage: python3 reference/pref_voting_reference.py PROFILES.json

PROFILES.json is a list of profiles, each
    {"n": 4, "ballots": [[2, 0, 3, 1], ...], "counts": [3, ...], "cut": [2, ...]}
where candidates are 0..n-1, every ballot is a complete ranking (most preferred first) cast
`counts[i]` times, and `cut[i]` is how many of its candidates the truncated copy of that
ballot keeps (used only for the Schulze comparison on truncated ballots).

Prints one JSON list with, per profile:
    schulze            winners of pref-voting's beat_path (the Schulze rule) on the complete
                       ballots (Profile; margins, which order defeats like winning votes when
                       every ballot is complete)
    schulze_truncated  winners of beat_path on the truncated ballots (ProfileWithTies with
                       extended strict preference: a named candidate is above every unnamed
                       one), with path strength = support, i.e. winning votes
    support_truncated  support[a][b] on the truncated ballots: weight ranking a above b
    borda              Borda winners and borda_scores (position r of m scores m - r)
    irv_put            instant_runoff_put: the winners under every way of breaking ties
    irv_eliminated     instant_runoff_with_explanation: candidates eliminated per round
                       (several in one round when they tie for fewest votes)

Exits 2 with a message on stderr when pref-voting is not installed.
"""

import json
import sys

try:
    from pref_voting.margin_based_methods import beat_path
    from pref_voting.profiles import Profile
    from pref_voting.profiles_with_ties import ProfileWithTies
    from pref_voting.scoring_methods import borda
    from pref_voting.iterative_methods import (
        instant_runoff_put,
        instant_runoff_with_explanation,
    )
except ImportError as error:
    sys.stderr.write(
        f"pref-voting is not importable ({error}); install it with: "
        "python3 -m pip install pref-voting\n"
    )
    sys.exit(2)


def plain(values):
    """numpy integers and nested lists to plain Python ints for json."""
    if isinstance(values, (list, tuple)):
        return [plain(v) for v in values]
    return int(values)


def count(profile):
    n = profile["n"]
    ballots = profile["ballots"]
    counts = profile["counts"]
    complete = Profile(ballots, rcounts=counts)

    truncated = ProfileWithTies(
        [
            {c: rank + 1 for rank, c in enumerate(ballot[:cut])}
            for ballot, cut in zip(ballots, profile["cut"])
        ],
        rcounts=counts,
        candidates=list(range(n)),
    )
    truncated.use_extended_strict_preference()

    _, eliminated = instant_runoff_with_explanation(complete)
    scores = complete.borda_scores()
    return {
        "schulze": plain(beat_path(complete)),
        "schulze_truncated": plain(
            beat_path(truncated, strength_function=truncated.support)
        ),
        "support_truncated": [
            [int(truncated.support(a, b)) for b in range(n)] for a in range(n)
        ],
        "borda": plain(borda(complete)),
        "borda_scores": [int(scores[c]) for c in range(n)],
        "irv_put": plain(instant_runoff_put(complete)),
        "irv_eliminated": plain(eliminated),
    }


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        sys.exit(64)
    with open(sys.argv[1], encoding="utf-8") as file:
        profiles = json.load(file)
    json.dump([count(p) for p in profiles], sys.stdout)


if __name__ == "__main__":
    main()
