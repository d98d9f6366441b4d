"""Experiment configs: one file per experiment, each with `get_config(arg=None) -> ConfigDict`.

A package so that configs share helpers (`from configs.common import parse_arg`) and can be imported
(`import configs.default`) from the repository root; `mirjax.config.load_config` imports them as its modules.
"""
