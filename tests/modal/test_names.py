"""Every public name of modAL 0.4.2 is importable from its al_adapters module."""

import importlib

import pytest

#: modAL module -> (al_adapters module, names)
MODAL_NAMES = {
    "modAL": ("al_adapters", ["ActiveLearner", "Committee", "CommitteeRegressor"]),
    "modAL.models": (
        "al_adapters",
        [
            "ActiveLearner",
            "DeepActiveLearner",
            "BayesianOptimizer",
            "Committee",
            "CommitteeRegressor",
        ],
    ),
    "modAL.uncertainty": (
        "al_adapters.uncertainty",
        [
            "classifier_uncertainty",
            "classifier_margin",
            "classifier_entropy",
            "uncertainty_sampling",
            "margin_sampling",
            "entropy_sampling",
        ],
    ),
    "modAL.disagreement": (
        "al_adapters.disagreement",
        [
            "vote_entropy",
            "consensus_entropy",
            "KL_max_disagreement",
            "vote_entropy_sampling",
            "consensus_entropy_sampling",
            "max_disagreement_sampling",
            "max_std_sampling",
        ],
    ),
    "modAL.batch": (
        "al_adapters.batch",
        [
            "select_cold_start_instance",
            "select_instance",
            "ranked_batch",
            "uncertainty_batch_sampling",
        ],
    ),
    "modAL.acquisition": (
        "al_adapters.acquisition",
        [
            "PI",
            "EI",
            "UCB",
            "optimizer_PI",
            "optimizer_EI",
            "optimizer_UCB",
            "max_PI",
            "max_EI",
            "max_UCB",
        ],
    ),
    "modAL.density": (
        "al_adapters.density",
        [
            "similarize_distance",
            "cosine_similarity",
            "euclidean_similarity",
            "information_density",
        ],
    ),
    "modAL.expected_error": (
        "al_adapters.expected_error",
        ["expected_error_reduction"],
    ),
    "modAL.multilabel": (
        "al_adapters.multilabel",
        [
            "SVM_binary_minimum",
            "max_loss",
            "mean_max_loss",
            "min_confidence",
            "avg_confidence",
            "max_score",
            "avg_score",
        ],
    ),
    "modAL.dropout": (
        "al_adapters.dropout",
        [
            "default_logits_adaptor",
            "mc_dropout_bald",
            "mc_dropout_mean_st",
            "mc_dropout_max_entropy",
            "mc_dropout_max_variationRatios",
            "get_predictions",
            "entropy_sum",
            "set_dropout_mode",
        ],
    ),
    "modAL.utils.selection": (
        "al_adapters.selection",
        [
            "shuffled_argmax",
            "shuffled_argmin",
            "multi_argmax",
            "multi_argmin",
            "weighted_random",
        ],
    ),
    "modAL.utils.combination": (
        "al_adapters.combination",
        ["make_linear_combination", "make_product", "make_query_strategy"],
    ),
    "modAL.utils.data": (
        "al_adapters.data",
        [
            "data_vstack",
            "data_hstack",
            "add_row",
            "retrieve_rows",
            "drop_rows",
            "enumerate_data",
            "data_shape",
            "modALinput",
        ],
    ),
    "modAL.utils.validation": (
        "al_adapters.validation",
        ["check_class_labels", "check_class_proba"],
    ),
}


@pytest.mark.parametrize("modal_module", sorted(MODAL_NAMES))
def test_every_modal_name_is_importable(modal_module):
    target, names = MODAL_NAMES[modal_module]
    module = importlib.import_module(target)
    missing = [name for name in names if not hasattr(module, name)]
    assert not missing, f"{modal_module}: {missing} missing from {target}"
    public = set(getattr(module, "__all__", names))
    assert set(names) <= public


def test_the_migration_page_lists_every_name():
    from pathlib import Path

    page = (Path(__file__).parents[2] / "docs" / "migrating-from-modal.md").read_text()
    for modal_module, (_, names) in MODAL_NAMES.items():
        assert f"`{modal_module}`" in page
        for name in names:
            assert f"`{name}`" in page, name
