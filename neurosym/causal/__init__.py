"""Causal reasoning data: premises as graphs, ground truth from networkx, the benchmark's file
formats, deterministic generators, and the k-node subset sampler that feeds the trainer."""

from neurosym.causal.cases import CASES, answer_case
from neurosym.causal.facts import GraphFacts, skeleton_path
from neurosym.causal.generate import FAMILIES, SPLITS, Family, families_for, generate, premise_split, write_eval_splits
from neurosym.causal.io import FORMATS, LoadResult, Reject, load_questions, write_questions
from neurosym.causal.records import Label, Question
from neurosym.causal.sampler import AskedQuery, SubsetSample, SubsetSampler, parse_atom
from neurosym.causal.stats import FileStats, summarize
from neurosym.causal.text import (
    TASKS,
    Query,
    Task,
    parse_premise,
    parse_question,
    render_premise,
    render_question,
    split_text,
)

__all__ = [
    "CASES",
    "FAMILIES",
    "FORMATS",
    "SPLITS",
    "TASKS",
    "AskedQuery",
    "Family",
    "FileStats",
    "GraphFacts",
    "Label",
    "LoadResult",
    "Query",
    "Question",
    "Reject",
    "SubsetSample",
    "SubsetSampler",
    "Task",
    "answer_case",
    "families_for",
    "generate",
    "write_eval_splits",
    "load_questions",
    "parse_atom",
    "parse_premise",
    "parse_question",
    "premise_split",
    "render_premise",
    "render_question",
    "skeleton_path",
    "split_text",
    "summarize",
    "write_questions",
]
