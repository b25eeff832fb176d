"""How many syscalls each shipped runtime's packages may make, against Docker's default.

    .venv/bin/python bench/seccomp_counts.py

Prints a Markdown table (the one in seccomp/README.md): per runtime recipe, the
names the composed profile allows without and with egress, on x86_64 and
aarch64. Pure: reads the group files, runs nothing.
"""

from __future__ import annotations

from mppoci.policy.seccomp import allowed_names, compose, groups_for
from mppoci.runtimes.recipes import list_recipes

# Docker 20.10's default profile allows 351 names with --cap-drop ALL on x86_64.
DOCKER_DEFAULT_ALLOWS = 351
ARCHITECTURES = ("x86_64", "aarch64")


def count(runtime: str, *, network: bool, arch: str) -> int:
    return len(allowed_names(compose(groups_for(network=network, runtime=runtime), arch=arch)))


def main() -> None:
    print("| runtime | groups | no egress (x86_64 / aarch64) | egress (x86_64 / aarch64) |")
    print("| --- | --- | --- | --- |")
    for recipe in list_recipes():
        groups = " + ".join(g.value for g in groups_for(network=False, runtime=recipe.name))
        cells = [
            " / ".join(str(count(recipe.name, network=net, arch=a)) for a in ARCHITECTURES)
            for net in (False, True)
        ]
        print(f"| {recipe.name} | {groups} | {cells[0]} | {cells[1]} |")
    worst = max(count(r.name, network=True, arch="x86_64") for r in list_recipes())
    print(
        f"\nDocker's default profile: {DOCKER_DEFAULT_ALLOWS} names (x86_64, --cap-drop ALL); "
        f"the largest mppoci profile allows {worst} "
        f"({round(100 * (1 - worst / DOCKER_DEFAULT_ALLOWS))} % fewer)."
    )


if __name__ == "__main__":
    main()
