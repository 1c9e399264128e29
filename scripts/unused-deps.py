#!/usr/bin/env python3
"""Fails when a workspace crate declares a dependency its sources never name, the check
`cargo machete` makes (a dependency is used when its crate name, dashes as underscores,
appears as a word in the crate's .rs files). Run by `make test`; needs no build."""
import glob, os, re, sys, tomllib

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
members = tomllib.load(open(os.path.join(root, "Cargo.toml"), "rb"))["workspace"]["members"]
unused = []
for member in members:
    manifest = tomllib.load(open(os.path.join(root, member, "Cargo.toml"), "rb"))
    text = "".join(
        open(f, encoding="utf-8").read()
        for f in glob.glob(os.path.join(root, member, "**", "*.rs"), recursive=True)
        if "/node_modules/" not in f
    )
    for section in ("dependencies", "dev-dependencies", "build-dependencies"):
        for name in manifest.get(section, {}):
            if not re.search(r"\b" + re.escape(name.replace("-", "_")) + r"\b", text):
                unused.append(f"{member}/Cargo.toml [{section}] {name}")
if unused:
    print("dependencies no source uses (remove them):", *unused, sep="\n  ")
    sys.exit(1)
print(f"no unused dependencies in {len(members)} crates")
