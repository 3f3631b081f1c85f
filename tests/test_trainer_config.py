"""The training config: YAML + --set overrides, validated; errors name the key, through the CLI too."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from neurosym.cli import app
from neurosym.errors import DataError
from neurosym.resources import resource_dir
from trainer.config import load_config

runner = CliRunner()


def _train_cli(*args: str):
    return runner.invoke(app, ["train", *args])


@pytest.mark.parametrize(
    "yaml_text, overrides, key",
    [
        ("optim:\n  lrr: 0.1\n", [], "optim.lrr: unknown key"),
        ("model:\n  name: tiny\n  lora: {r: 0}\n", [], "model.lora.r"),
        ("", ["optim.lr=-1"], "optim.lr"),
        ("", ["semantic.k=abc"], "semantic.k"),
        ("", ["semantic.lam.schedule=exponential"], "semantic.lam.schedule"),
        ("", ["nosuch.section=1"], "nosuch: unknown key"),
        ("", ["eval.interval=0"], "eval.interval"),
    ],
)
def test_bad_keys_and_values_exit_1_naming_the_dotted_key(tmp_path, yaml_text, overrides, key):
    config = tmp_path / "run.yaml"
    config.write_text(yaml_text, encoding="utf-8")
    result = _train_cli(str(config), *[a for o in overrides for a in ("--set", o)])
    assert result.exit_code == 1
    assert key in result.output
    assert "Traceback" not in result.output


def test_each_problem_names_its_source_the_file_or_the_set_item(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("optim:\n  lr: -1\n", encoding="utf-8")
    result = _train_cli(str(config), "--set", "semantic.k=abc", "--set", "nosuch.key=1")
    assert result.exit_code == 1
    assert f"{config}: optim.lr:" in result.output
    assert "--set semantic.k=abc: semantic.k:" in result.output
    assert "--set nosuch.key=1: nosuch: unknown key" in result.output
    assert f"{config}: semantic.k" not in result.output


def test_yaml_syntax_error_names_line_and_column(tmp_path):
    config = tmp_path / "broken.yaml"
    config.write_text("optim:\n  lr: [1, 2\n", encoding="utf-8")
    result = _train_cli(str(config))
    assert result.exit_code == 1
    assert f"{config}:" in result.output and "not valid YAML" in result.output
    assert "Traceback" not in result.output


def test_set_value_that_is_not_yaml_names_the_item_and_column_and_how_to_quote():
    item = "prompt.template={premise}\\n{question}"
    result = _train_cli(str(resource_dir("experiments") / "tiny.yaml"), "--set", item)
    assert result.exit_code == 1
    assert f"--set {item}: the value is not valid YAML at column 26" in result.output
    assert "quote a string" in result.output and "Traceback" not in result.output
    quoted = load_config(resource_dir("experiments") / "tiny.yaml", ['prompt.template="{premise}\\n{question}"'])
    assert quoted.prompt.template == "{premise}\n{question}"


def test_set_without_equals_and_missing_file_are_user_errors(tmp_path):
    result = _train_cli(str(resource_dir("experiments") / "tiny.yaml"), "--set", "optim.lr")
    assert result.exit_code == 1 and "key=value" in result.output
    result = _train_cli(str(tmp_path / "absent.yaml"))
    assert result.exit_code == 1 and "absent.yaml" in result.output and "Traceback" not in result.output


def test_overrides_are_parsed_as_yaml_values():
    config = load_config(
        resource_dir("experiments") / "tiny.yaml",
        ["model.lora=null", "optim.lr=3e-4", "semantic.enabled=false", "output_dir=/tmp/x"],
    )
    assert config.model.lora is None
    assert config.optim.lr == pytest.approx(3e-4)
    assert config.semantic.enabled is False
    assert str(config.run_folder()) == "/tmp/x"


def test_set_into_a_value_that_is_not_a_section_is_rejected():
    with pytest.raises(DataError, match="'lr' is not a section"):
        load_config(None, ["optim.lr=1", "optim.lr.x=2"])


def test_shipped_experiment_configs_validate():
    from trainer.sweep import load_sizes

    experiments = resource_dir("experiments")
    configs = [p for p in sorted(experiments.glob("*.yaml")) if not p.name.startswith("sizes")]
    assert {"paper.yaml", "strong.yaml", "tiny.yaml", "converge-cpu.yaml"} <= {p.name for p in configs}
    for path in configs:
        load_config(path)
    for presets in ("sizes.yaml", "sizes-converge.yaml"):  # the sweep presets, not training configs
        for size in load_sizes(experiments / presets).values():
            # every preset's overrides apply cleanly to its own config, or to both settings
            for config in [size.config] if size.config else ["paper.yaml", "strong.yaml"]:
                load_config(experiments / config, list(size.overrides))
