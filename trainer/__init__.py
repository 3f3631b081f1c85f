"""The fine-tuning recipe: config → model + data + compiled constraint → training loop → run folder.

`trainer.recipe.train` is the loop; `trainer.config` the validated YAML config; `trainer.data` the
questions and their batch order; `trainer.semantic` the semantic term over sampled k-node subsets;
`trainer.schedules` the λ(t) schedules; `trainer.monitor` the collapse monitor;
`trainer.checkpoint` checkpoints and the final model; `trainer.demo` the README's main job.
"""
