"""What a checkpoint's card says about its training data."""
import shutil

from nextham.io.shards import ShardedDataset, assign_splits, read_manifest, write_manifest
from nextham.train.builders import dataset_card


def test_the_card_knows_only_the_training_elements(tmp_path, embedded):
    root = tmp_path / "data"
    shutil.copytree(embedded.root, root)
    manifest = read_manifest(root)
    labels = [label for shard in manifest["shards"] for label in shard["structures"]]
    held_out = [label for label in labels if label.startswith("AlSb")]
    manifest["groups"] = {label: "held_out_element" for label in held_out}
    manifest["split"] = assign_splits(labels, manifest["split_fractions"], manifest["groups"])
    write_manifest(root, manifest)
    dataset = ShardedDataset(root)
    assert set(held_out) <= set(dataset.split_labels("test")) and dataset.group_of(held_out[0]) == "held_out_element"
    assert "Sb" in dataset.elements_of(held_out) and "Sb" not in dataset.elements_of(dataset.split_labels("train"))
    card = dataset_card(dataset, 6.0, "float32")
    assert "Sb" not in card["basis"] and {"Si", "Al", "Cs", "I"} <= set(card["basis"])
    assert set(dataset_card(dataset, 6.0, "float32", train_split=None)["basis"]) == set(dataset.basis.elements)
