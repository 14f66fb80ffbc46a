"""Subcommands of ``python -m core``; each module offers ``add_parser(subparsers)`` and ``run(args) -> int``.

A command's module is imported only when that command runs (its imports may bring torch, MONAI or pandas), so
``--help`` and the light commands start at once; ``COMMANDS`` holds the one-line help of every command.
"""

COMMANDS: dict[str, str] = {  # argparse help text: a literal percent sign is written %%
    "synth": "write a synthetic cohort (RSNA-MICCAI layout, labels, truth, tumour masks)",
    "inspect": "show each sequence's source series, shape, spacing, RAS affine and plane",
    "predict": "estimate the probability that the tumour's MGMT promoter is methylated (research use only)",
    "batch": "score every study of a cohort folder into the cohort tables",
    "train": "cross-validate and train a model folder (config.json, model.safetensors, card)",
    "tune": "Bayesian search (Optuna TPE, median pruning) over learning rate, weight decay, dropout, width, depth "
            "and batch size",
    "evaluate": "accuracy, precision, recall, F1, ROC AUC with 95%% CI, Brier, ECE, Dice, missing sequences of a model",
    "push": "publish a trained model folder to the Hugging Face Hub",
    "purge": "delete prediction-log rows older than N days",
    "ood": "fit the out-of-distribution gate of a model folder (ood.json) on in-distribution cases",
    "decide": "fit the decision rule of a model folder (decision.json) on its out-of-fold predictions",
}
