"""``python -m core push MODEL_DIR --repo ORG/NAME``: publish a trained model folder to the Hugging Face Hub.

The folder must load with this project's loader and its card must state research use and, for synthetic training
data, say so; then weights, config.json, the card and the out-of-fold files are uploaded (huggingface_hub).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from core.cli import COMMANDS
from core.errors import InputError
from core.notice import RESEARCH_NOTICE

REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "push", help=COMMANDS["push"],
        description="Check a model folder (config loads, card states research use and synthetic training data, "
                    "model-index metrics present) and upload model.safetensors, config.json, README.md and, when "
                    "present, oof.csv, metrics.json, ood.json, decision.json and the evaluation-*.json figures to a "
                    "Hub model repo (created when missing). Token: HF_TOKEN or `hf auth login`; "
                    "Hub: HF_ENDPOINT when set.")
    parser.add_argument("model_dir", type=Path, metavar="MODEL_DIR", help="folder written by `python -m core train`")
    parser.add_argument("--repo", required=True, metavar="ORG/NAME", help="the Hub model repo")
    parser.add_argument("--revision", default="main", metavar="BRANCH", help="branch to commit to (created from "
                        "main when missing; default main)")
    parser.add_argument("--private", action="store_true", help="create the repo private (an existing repo keeps "
                        "its visibility)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from core.model.publish import check_model_folder, push_model

    if not REPO_ID.fullmatch(args.repo):
        raise InputError(f"--repo {args.repo!r} is not a Hub repo id; expected ORG/NAME (letters, digits, '-', '_', "
                         "'.').")
    publication = check_model_folder(args.model_dir)
    print(f"... publishing {', '.join(publication.files)} to {args.repo} ({args.revision})", file=sys.stderr)
    published = push_model(publication, args.repo, args.revision, args.private)
    print(f"published {published.repo} at revision {published.revision}: commit {published.commit}")
    print(f"  {published.url}")
    print(f"use it: MGMT_MODEL_REPO={published.repo} MGMT_MODEL_REVISION={published.commit} streamlit run app.py")
    print(RESEARCH_NOTICE)
    return 0
