"""Benchmarks and the demo build what they boot, with the same make as the
README's commands (so set-up happens on demand there too). Call before
importing anything a fresh machine may lack (pexpect): make's set-up check
installs it, or stops with one line naming the command to run."""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def build(*goals):
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(ROOT), *goals])
    if r.returncode != 0:
        sys.exit(r.returncode)
